/* schedule: warmup + cosine or constant learning rates (see schedule.h). */
#include "schedule.h"

#include <math.h>

double schedule_lr(const Schedule *s, long step) {
    if (step < s->warmup_steps) return s->max_lr * (double)(step + 1) / (double)s->warmup_steps;
    if (s->kind == SCHEDULE_CONSTANT) return s->max_lr;
    double min_lr = s->max_lr * s->min_ratio;
    long span = s->total_steps - s->warmup_steps;
    double r = span > 0 ? (double)(step - s->warmup_steps) / (double)span : 1.0;
    if (r > 1.0) r = 1.0;
    return min_lr + (s->max_lr - min_lr) * 0.5 * (1.0 + cos(M_PI * r));
}
