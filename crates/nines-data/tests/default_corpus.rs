//! The shipped corpus loads, strips and yields prompts in every split.

use nines_data::corpus::Corpus;
use nines_data::prompt::{PromptConfig, build_prompts};
use nines_data::split::Split;

#[test]
fn default_corpus_yields_prompts_in_every_split() {
    let corpus = Corpus::load(Corpus::default_path()).unwrap();
    assert_eq!(corpus.documents().len(), 6);
    for d in corpus.documents() {
        let body = d.body();
        assert!(
            !body.contains('\r') && !body.starts_with('\u{feff}'),
            "{}",
            d.id()
        );
        assert!(!body.contains("PROJECT GUTENBERG"), "{}", d.id());
        eprintln!(
            "{}: {:?} body {} bytes, starts {:?}",
            d.id(),
            d.stripped(),
            body.len(),
            &body[..60.min(body.len())]
        );
    }
    let (prompts, stats) = build_prompts(&corpus, &PromptConfig::default()).unwrap();
    eprintln!("{stats:?}");
    for split in [Split::Train, Split::Validation, Split::Test] {
        let n = prompts.iter().filter(|p| p.source.split == split).count();
        eprintln!("{split:?}: {n}");
        assert!(n > 100, "{split:?} has {n} prompts");
    }
    for p in prompts.iter().step_by(997) {
        eprintln!(
            "--- {} {:?}\n{}\n>> {:?}",
            p.id, p.source.split, p.text, p.next_sentence
        );
    }
}
