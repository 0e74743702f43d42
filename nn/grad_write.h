/* grad_write: how a backward pass writes the gradient of its input.
 *
 * The rule (STYLE.md) is that backward passes add into gradients, which the caller zeroes
 * first. That is what parameter gradients need (several passes, or micro-batches, add into
 * one dW). But an activation's gradient often has exactly one writer, and zeroing it only
 * so that the writer can add into it costs a pass over memory: in the GPT step at the
 * benchmark's shape, 28 MB per block. GRAD_SET lets that one writer overwrite instead; the
 * caller states it at the call, where it knows nobody else writes the buffer. */
#ifndef TESSERA_GRAD_WRITE_H
#define TESSERA_GRAD_WRITE_H

typedef enum {
    GRAD_ADD, /* din += gradient (the rule) */
    GRAD_SET, /* din  = gradient (din's only writer; its old contents are never read) */
} GradWrite;

#endif
