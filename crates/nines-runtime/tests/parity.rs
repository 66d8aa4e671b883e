//! Logit parity with Hugging Face transformers on tiny random-weight checkpoints
//! (fixtures made by scripts/reference/make_fixtures.py), f32, within 1e-4.

mod common;

use common::{assert_close, fixture, read_json, read_tensors};
use nines_runtime::models::Linear;
use nines_runtime::{DType, DeviceSpec, Encoder, KvCache, LanguageModel, LoadOptions, Pooling};
use tch::{Kind, Tensor};

const TOL: f64 = 1e-4;

fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    }
}

/// Full forward over the padded reference batch, compared where the mask is 1.
fn check_causal(dir: &str) {
    let lm = LanguageModel::load(fixture(dir), cpu()).expect("tiny model loads");
    let r = read_tensors(&format!("{dir}/reference.safetensors"));
    let mask = r["attention_mask"].ne(0);
    let logits = tch::no_grad(|| {
        lm.model()
            .forward(&r["input_ids"], &r["position_ids"], Some(&mask), None)
    })
    .unwrap();
    let expected = &r["logits"];
    let sel = mask.unsqueeze(-1).expand_as(expected);
    assert_close(
        &format!("{dir} logits"),
        &logits.masked_select(&sel),
        &expected.masked_select(&sel),
        TOL,
    );
}

/// Prefill then token-by-token decoding with the KV cache gives the same logits as one pass.
fn check_cache(dir: &str) {
    let lm = LanguageModel::load(fixture(dir), cpu()).expect("tiny model loads");
    let r = read_tensors(&format!("{dir}/reference.safetensors"));
    let ids = r["input_ids"].get(0).unsqueeze(0);
    let pos = r["position_ids"].get(0).unsqueeze(0);
    let t = ids.size()[1];
    let expected = r["logits"].get(0);
    let mut cache = KvCache::new(lm.model().spec().num_layers);
    let _g = tch::no_grad_guard();
    let prefill = 5;
    let mut parts = vec![
        lm.model()
            .forward(
                &ids.narrow(1, 0, prefill),
                &pos.narrow(1, 0, prefill),
                None,
                Some(&mut cache),
            )
            .unwrap(),
    ];
    for i in prefill..t {
        parts.push(
            lm.model()
                .forward(
                    &ids.narrow(1, i, 1),
                    &pos.narrow(1, i, 1),
                    None,
                    Some(&mut cache),
                )
                .unwrap(),
        );
    }
    let got = Tensor::cat(&parts, 1).squeeze_dim(0);
    assert_close(&format!("{dir} cached logits"), &got, &expected, TOL);
}

#[test]
fn llama_matches_transformers() {
    check_causal("llama");
    check_cache("llama");
}

#[test]
fn sharded_llama_matches_transformers() {
    check_causal("llama_sharded");
}

#[test]
fn gpt2_matches_transformers() {
    check_causal("gpt2");
    check_cache("gpt2");
}

#[test]
fn gpt_neo_matches_transformers_with_local_attention() {
    check_causal("gpt_neo");
    check_cache("gpt_neo");
}

#[test]
fn bert_matches_transformers() {
    let (enc, head) = Encoder::load_with(fixture("bert"), cpu(), |root| {
        Linear::new(root / "classifier", 32, 2, true).unwrap()
    })
    .expect("tiny bert loads");
    let r = read_tensors("bert/reference.safetensors");
    let _g = tch::no_grad_guard();
    let hidden = enc
        .model()
        .forward(
            &r["input_ids"],
            &r["token_type_ids"],
            &r["attention_mask"],
            false,
        )
        .unwrap();
    let valid = r["attention_mask"].ne(0).unsqueeze(-1).expand_as(&hidden);
    assert_close(
        "last_hidden_state",
        &hidden.masked_select(&valid),
        &r["last_hidden_state"].masked_select(&valid),
        TOL,
    );
    let pooled = nines_runtime::models::bert::mean_pool(&hidden, &r["attention_mask"]);
    assert_close("mean_pooled", &pooled, &r["mean_pooled"], TOL);
    let pooler = enc.model().pool(&hidden);
    assert_close("pooler_output", &pooler, &r["pooler_output"], TOL);
    assert_close(
        "cls_logits",
        &head.f_forward(&pooler).unwrap(),
        &r["cls_logits"],
        TOL,
    );
}

#[test]
fn bert_tokenizer_pairs_and_batches() {
    let enc = Encoder::load(fixture("bert"), cpu()).expect("tiny bert loads");
    let r = read_tensors("bert/reference.safetensors");
    let texts = read_json("bert/texts.json");
    let pairs = texts["pairs"].as_array().expect("pairs");
    let first: Vec<&str> = pairs.iter().map(|p| p[0].as_str().expect("text")).collect();
    let second: Vec<&str> = pairs.iter().map(|p| p[1].as_str().expect("text")).collect();
    let b = enc
        .encode_batch(&first, Some(&second), 512)
        .expect("encodes");
    assert_eq!(b.input_ids.size(), r["input_ids"].size());
    assert_eq!(
        Vec::<i64>::try_from(b.input_ids.flatten(0, -1)).unwrap(),
        Vec::<i64>::try_from(r["input_ids"].flatten(0, -1)).unwrap()
    );
    assert_eq!(
        Vec::<i64>::try_from(b.token_type_ids.flatten(0, -1)).unwrap(),
        Vec::<i64>::try_from(r["token_type_ids"].flatten(0, -1)).unwrap()
    );
    let emb = enc.embed(&first, Pooling::Cls).expect("embeds");
    assert_eq!(emb.size(), vec![first.len() as i64, 32]);
    assert_eq!(emb.kind(), Kind::Float);
}

#[test]
fn tokenizer_json_matches_transformers() {
    for dir in ["llama", "gpt2", "gpt_neo"] {
        let lm = LanguageModel::load(fixture(dir), cpu()).expect("loads");
        let reference = read_json(&format!("{dir}/tokenizer_reference.json"));
        for probe in reference["probes"].as_array().expect("probes") {
            let text = probe["text"].as_str().expect("text");
            let want: Vec<u32> = probe["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(
                lm.tokenizer().encode(text).expect("encodes"),
                want,
                "{dir}: {text}"
            );
            assert_eq!(lm.tokenizer().decode(&want, true).expect("decodes"), text);
        }
    }
}
