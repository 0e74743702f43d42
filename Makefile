# Tessera. `make demo` and `make test` are the two set-up commands (README.md):
# both install what is missing (tools/install_deps.sh), build, and run.
CC      ?= gcc
PYTHON  := /usr/bin/python3
NATIVE  := $(shell $(CC) -march=native -E -x c /dev/null >/dev/null 2>&1 && echo -march=native)
CFLAGS  ?= -O3 -g $(NATIVE)
# Messages are cut to their buffers on purpose (snprintf), so truncation is no warning here.
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -MMD -MP
# No code reads errno after a math call; without this GCC cannot vectorize sqrt loops (AdamW).
CFLAGS  += -fno-math-errno
# OpenMPI's flags; `=` so a sub-make evaluates them after tools/install_deps.sh ran.
MPI_CFLAGS = $(shell mpicc --showme:compile 2>/dev/null)
MPI_LIBS   = $(shell mpicc --showme:link 2>/dev/null)
CFLAGS  += $(MPI_CFLAGS)
LDLIBS   = -llmdb -lzmq -lturbojpeg -lpng -larchive -lz -lopenblas $(MPI_LIBS) -lm
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC := $(wildcard core/*.c store/*.c ingest/*.c nn/*.c tokenize/*.c train/*.c eval/*.c)
LIB_OBJ := $(LIB_SRC:%.c=build/%.o)
# nn/ and the GPT stack again in double precision, for the finite-difference tests
# (tests/unit/fd_*.c); the rest of the library links in as built.
F64_SRC  := $(wildcard nn/*.c) train/gpt.c
F64_OBJ := $(F64_SRC:%.c=build-f64/%.o) $(filter-out $(F64_SRC:%.c=build/%.o),$(LIB_OBJ))
FD_SRC  := $(wildcard tests/unit/fd_*.c)
FD_BIN  := $(FD_SRC:tests/unit/%.c=build/tests/%)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
ASAN_OBJ := $(LIB_SRC:%.c=build-asan/%.o)
ASAN_UNIT := $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIB := core/err.c core/buf.c core/xalloc.c ingest/decode.c ingest/resize.c ingest/image.c \
            ingest/preprocess.c ingest/pool_proto.c store/record.c core/json_read.c
# fuzz_checkpoint: the checkpoint reader, config parser and VQ-VAE shape checks.
FUZZ_LIB_fuzz_checkpoint := core/err.c core/buf.c core/xalloc.c core/fs.c core/config.c core/rng.c \
            train/checkpoint.c tokenize/vqvae.c nn/convnet.c nn/conv2d.c nn/conv_transpose2d.c \
            nn/groupnorm.c nn/silu.c nn/params.c nn/quantizer.c nn/pool.c

.PHONY: all deps test demo bench bench-train bench-tokenize bench-ar fuzz clean asan
# Objects reached through pattern chains are not temporary: keep them between builds.
.SECONDARY:
all: build/tessera

deps:
	@bash tools/install_deps.sh

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/tessera: build/tessera.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/tests/test_%: tests/unit/test_%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter $< $(LIB_OBJ) -o $@ $(LDLIBS) -lcmocka

build-f64/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DNN_DOUBLE -c $< -o $@

build/tests/fd_%: tests/unit/fd_%.c $(F64_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DNN_DOUBLE -Wno-unused-parameter $< $(F64_OBJ) -o $@ $(LDLIBS) -lcmocka

# The same code under AddressSanitizer + UndefinedBehaviorSanitizer.
build-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(ASAN) -c $< -o $@

build-asan/tessera: build-asan/tessera.o $(ASAN_OBJ)
	$(CC) $(CFLAGS) $(ASAN) $^ -o $@ $(LDLIBS)

build-asan/tests/%: tests/unit/%.c $(ASAN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O1 $(ASAN) -Wno-unused-parameter $< $(ASAN_OBJ) -o $@ $(LDLIBS) -lcmocka

asan: build-asan/tessera $(ASAN_UNIT)

# Programs run under mpirun by the integration tests.
MPI_TEST_BIN := $(patsubst tests/mpi/%.c,build/tests/mpi/%,$(wildcard tests/mpi/*.c))
build/tests/mpi/%: tests/mpi/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB_OBJ) -o $@ $(LDLIBS)

# Benchmark programs that link the whole library (bench/run_ar_bench.sh).
build/bench/ar_bench: bench/ar_bench.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. $< $(LIB_OBJ) -o $@ $(LDLIBS)

# libFuzzer targets (clang): every parser of untrusted bytes.
build-fuzz/fuzz_checkpoint: tests/fuzz/fuzz_checkpoint.c $(FUZZ_LIB_fuzz_checkpoint)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $< $(FUZZ_LIB_fuzz_checkpoint) -o $@ -lopenblas -lz -lm

build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $< $(FUZZ_LIB) -o $@ -lturbojpeg -lm

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(FD_BIN) $(MPI_TEST_BIN) asan $(FUZZ_BIN)
	@bash tests/run_tests.sh

fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} bash tests/fuzz/run_fuzz.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tools/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_bench.sh

# Training vs PyTorch (about 13 minutes) and tokenize/detokenize + the encoder (about 8;
# TOKENIZER=ckpt to measure a trained one, else a 20-step one is trained first).
bench-train: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_train_bench.sh

bench-tokenize: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run_tokenize_bench.sh $(TOKENIZER)

# The AR model (issue 6): training vs PyTorch, sampling with and without the KV cache
# (about 10 minutes; AR_BENCH_QUICK=1 is a smoke run of about a minute).
bench-ar: deps
	@$(MAKE) --no-print-directory all build/bench/ar_bench
	@bash bench/run_ar_bench.sh

clean:
	rm -rf build build-asan build-fuzz build-f64

-include $(LIB_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(F64_SRC:%.c=build-f64/%.d) build/tessera.d
-include $(wildcard build/tests/*.d build-asan/tests/*.d build/tests/mpi/*.d)
-include $(wildcard build/bench/*.d)
