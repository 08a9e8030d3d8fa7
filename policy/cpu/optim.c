/* policy/cpu/optim.c: AdamW on CPU, as torch.optim.AdamW (decoupled weight decay, bias correction):
 *   p -= lr * wd * p ; m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps) */
#include <math.h>

#include "cpu.h"

int cpu_adamw_step(policy_model *m, const policy_adamw *h, grpo_err *err) {
    m->adam_t++;
    const double bc1 = 1.0 - pow(h->beta1, m->adam_t), bc2 = 1.0 - pow(h->beta2, m->adam_t);
    const float step = (float)(h->lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    const float b1 = h->beta1, b2 = h->beta2, eps = h->eps;
    for (size_t t = 0; t < m->n_tensors; t++) {
        const policy_param *pp = &m->params[t];
        float *p = m->param_mem + pp->offset, *g = m->grad_mem + pp->offset;
        float *mm = m->m_mem + pp->offset, *vv = m->v_mem + pp->offset;
        const float decay = pp->decay ? 1.0f - h->lr * h->weight_decay : 1.0f;
        const size_t n = pp->numel;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            p[i] *= decay;
            mm[i] = b1 * mm[i] + (1.0f - b1) * g[i];
            vv[i] = b2 * vv[i] + (1.0f - b2) * g[i] * g[i];
            p[i] -= step * mm[i] / (sqrtf(vv[i]) / bc2_sqrt + eps);
        }
    }
    (void)err;
    return GRPO_OK;
}
