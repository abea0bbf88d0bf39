/* The qwen2 architecture (Qwen 1.5/2/2.5): llama's blocks with biases on
 * the q/k/v projections, RoPE on NeoX pairs (i, i + n_rot/2), and an
 * output matrix tied to the embeddings when the file has none. */
#include "model.h"

static fm_status qwen2_load(fm_model *m) {
    fm_status s = fm_model_read_hparams(m, FM_NORM_RMS);
    if (s) return s;
    m->hp.rope_mode = FM_ROPE_NEOX;
    return fm_llama_bind(m, 1);
}

const fm_arch fm_arch_qwen2 = {"qwen2", qwen2_load, fm_forward_decoder};
