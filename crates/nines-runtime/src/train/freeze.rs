//! Freezing: train only the top layers of a model (and whatever is not part of the layer stack
//! only when asked).

use tch::nn::VarStore;

/// The transformer-block index in a parameter name (`model.layers.7.…`, `transformer.h.7.…`,
/// `bert.encoder.layer.7.…`), or `None` for parameters outside the block stack.
pub fn layer_index(name: &str) -> Option<usize> {
    let parts: Vec<&str> = name.split('.').collect();
    parts.windows(2).find_map(|w| {
        matches!(w[0], "layers" | "h" | "layer")
            .then(|| w[1].parse().ok())
            .flatten()
    })
}

/// Sets `requires_grad = false` on every variable except those in the top `top` blocks of a
/// `num_layers`-block model and those whose name contains any of `keep` (e.g. `"norm"`,
/// `"lora_"`, `"value_head"`). Returns the number of elements left trainable.
pub fn freeze_all_but_top_layers(
    vs: &VarStore,
    num_layers: usize,
    top: usize,
    keep: &[&str],
) -> i64 {
    let first_trainable = num_layers.saturating_sub(top);
    let mut trainable = 0;
    for (name, var) in vs.variables() {
        let in_top = layer_index(&name).is_some_and(|i| i >= first_trainable);
        let kept = keep.iter().any(|k| name.contains(k));
        let train = in_top || kept;
        let _ = var.set_requires_grad(train);
        if train {
            trainable += var.numel() as i64;
        }
    }
    trainable
}

/// How many bottom blocks of a `num_layers`-block model are entirely frozen, with the input
/// embeddings frozen too: the part of the forward pass that gradients never reach, which a
/// trainer can run without recording it ([`crate::models::CausalLm::forward_blocks`]).
pub fn frozen_bottom_blocks(vs: &VarStore, num_layers: usize) -> usize {
    let mut bottom = num_layers;
    for (name, var) in vs.variables() {
        if !var.requires_grad() {
            continue;
        }
        match layer_index(&name) {
            Some(i) => bottom = bottom.min(i),
            None if is_input_embedding(&name) => return 0,
            None => {}
        }
    }
    bottom
}

/// Whether a parameter belongs to the input embeddings (token or position tables).
pub fn is_input_embedding(name: &str) -> bool {
    ["embed_tokens", "wte", "wpe"]
        .iter()
        .any(|e| name.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, nn};

    #[test]
    fn finds_layers_and_freezes() {
        assert_eq!(layer_index("model.layers.12.mlp.up_proj.weight"), Some(12));
        assert_eq!(layer_index("transformer.h.0.ln_1.bias"), Some(0));
        assert_eq!(
            layer_index("bert.encoder.layer.5.output.dense.weight"),
            Some(5)
        );
        assert_eq!(layer_index("model.norm.weight"), None);
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        for i in 0..3 {
            let _ = root
                .sub("model")
                .sub("layers")
                .sub(i)
                .var("w", &[2], nn::Init::Const(0.0));
        }
        let _ = root
            .sub("model")
            .sub("norm")
            .var("weight", &[2], nn::Init::Const(1.0));
        assert_eq!(freeze_all_but_top_layers(&vs, 3, 1, &["norm"]), 4);
        let vars = vs.variables();
        assert!(vars["model.layers.2.w"].requires_grad());
        assert!(!vars["model.layers.0.w"].requires_grad());
        assert!(vars["model.norm.weight"].requires_grad());
        assert_eq!(frozen_bottom_blocks(&vs, 3), 2);
        let _ = vars["model.layers.0.w"].set_requires_grad(true);
        assert_eq!(frozen_bottom_blocks(&vs, 3), 0);
        let _ = vars["model.layers.0.w"].set_requires_grad(false);
        let emb = root
            .sub("model")
            .sub("embed_tokens")
            .var("weight", &[2], nn::Init::Const(0.0));
        assert_eq!(frozen_bottom_blocks(&vs, 3), 0, "{emb:?} trains");
    }
}
