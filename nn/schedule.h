/* schedule: the learning rate as a pure function of the step, so a resumed run needs only
 * the step number. Steps count from 0: the first optimizer update uses schedule_lr(s, 0).
 *
 *   warmup  step < warmup_steps: max_lr * (step + 1) / warmup_steps (the first step is not 0)
 *   cosine  then min_lr + (max_lr - min_lr) * (1 + cos(pi * r)) / 2, r = (step - warmup_steps)
 *           / (total_steps - warmup_steps), so lr reaches min_lr = min_ratio * max_lr at
 *           step = total_steps and stays there after
 *   constant  max_lr after warmup
 *
 * This is llm.c's schedule. Up to total_steps it equals torch's SequentialLR of
 * LinearLR(start_factor = 1 / warmup_steps, total_iters = warmup_steps - 1) and
 * CosineAnnealingLR(T_max = total_steps - warmup_steps, eta_min = min_lr) with milestone
 * warmup_steps (tests/ref/ref_optim.py checks this); past it torch's cosine rises again,
 * this one stays at min_lr. */
#ifndef TESSERA_SCHEDULE_H
#define TESSERA_SCHEDULE_H

typedef enum { SCHEDULE_COSINE, SCHEDULE_CONSTANT } ScheduleKind;

typedef struct {
    ScheduleKind kind;
    double max_lr;
    long warmup_steps; /* 0: none */
    long total_steps;  /* cosine: where the decay ends */
    double min_ratio;  /* cosine: min_lr / max_lr, e.g. 0.1 */
} Schedule;

double schedule_lr(const Schedule *s, long step);

#endif
