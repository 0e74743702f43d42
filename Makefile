# Tessera. `make demo` and `make test` are the two set-up commands (README.md):
# both install what is missing (tools/install_deps.sh), build, and run.
CC      ?= gcc
PYTHON  := /usr/bin/python3
NATIVE  := $(shell $(CC) -march=native -E -x c /dev/null >/dev/null 2>&1 && echo -march=native)
CFLAGS  ?= -O3 -g $(NATIVE)
# Messages are cut to their buffers on purpose (snprintf), so truncation is no warning here.
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-format-truncation -MMD -MP
LDLIBS  := -llmdb -lzmq -lturbojpeg -lpng -larchive -lz -lm
ASAN    := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_SRC := $(wildcard core/*.c store/*.c ingest/*.c)
LIB_OBJ := $(LIB_SRC:%.c=build/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/tests/%)
ASAN_OBJ := $(LIB_SRC:%.c=build-asan/%.o)
ASAN_UNIT := $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIB := core/err.c core/buf.c core/xalloc.c ingest/decode.c ingest/resize.c ingest/image.c \
            ingest/preprocess.c ingest/pool_proto.c store/record.c

.PHONY: all deps test demo bench fuzz clean asan
all: build/tessera

deps:
	@bash tools/install_deps.sh

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/tessera: build/tessera.o $(LIB_OBJ)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

build/tests/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-unused-parameter $< $(LIB_OBJ) -o $@ $(LDLIBS) -lcmocka

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

# libFuzzer targets (clang): every parser of untrusted bytes.
build-fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    $< $(FUZZ_LIB) -o $@ -lturbojpeg -lm

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) asan $(FUZZ_BIN)
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

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(ASAN_OBJ:.o=.d) build/tessera.d
