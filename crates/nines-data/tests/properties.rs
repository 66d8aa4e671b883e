//! Property tests: segmentation loses no text, offsets map back to the file, JSONL records
//! round-trip through the store, and inclusion probabilities add up.

use nines_data::corpus::Document;
use nines_data::record::{Generator, Label, SamplingSettings, Selection, Snippet, Source, Verdict};
use nines_data::segment::{collapse_whitespace, segment};
use nines_data::select::inclusion_probabilities;
use nines_data::split::Split;
use nines_data::store::Store;
use proptest::prelude::*;

/// Fiction-like text: words, abbreviations, quotes, punctuation, dashes, ellipses, headings,
/// blank lines, CRLF, tabs and non-ASCII letters.
fn fiction() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Mr.".to_string()),
        Just("Mrs.".to_string()),
        Just("Dr.".to_string()),
        Just("St.".to_string()),
        Just("H. G.".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\u{201C}".to_string()),
        Just("\u{201D}".to_string()),
        Just("--".to_string()),
        Just("\u{2014}".to_string()),
        Just("...".to_string()),
        Just(". . .".to_string()),
        Just(".".to_string()),
        Just("!".to_string()),
        Just("?".to_string()),
        Just(",".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\n\n".to_string()),
        Just("\r\n".to_string()),
        Just("\t".to_string()),
        Just("\n\nCHAPTER IV\n\n".to_string()),
        Just("\n\nTHE EVE OF THE WAR\n\n".to_string()),
        Just("\u{a0}".to_string()),
        "[A-Z][a-z]{0,8}",
        "[a-z]{1,8}",
        "[0-9]{1,4}",
        "[àéîõüß]{1,3}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.join(""))
}

proptest! {
    #[test]
    fn segmentation_loses_no_text(text in fiction()) {
        let segs = segment(&text);
        let mut prev_end = 0;
        for s in &segs {
            prop_assert!(s.start < s.end, "empty segment");
            prop_assert!(s.start >= prev_end, "overlap");
            prop_assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
            prop_assert!(text[prev_end..s.start].chars().all(char::is_whitespace), "text lost between segments: {:?}", &text[prev_end..s.start]);
            let t = &text[s.start..s.end];
            prop_assert_eq!(t.trim(), t, "segments are trimmed");
            prev_end = s.end;
        }
        prop_assert!(text[prev_end..].chars().all(char::is_whitespace));
        let rejoined = segs.iter().map(|s| s.text(&text)).collect::<Vec<_>>().join(" ");
        prop_assert_eq!(collapse_whitespace(&rejoined), collapse_whitespace(&text));
    }

    #[test]
    fn body_offsets_map_back_to_the_raw_bytes(text in fiction(), bom in any::<bool>()) {
        let raw = if bom { format!("\u{feff}{text}") } else { text.clone() };
        let doc = Document::from_bytes("d", raw.as_bytes(), None).unwrap();
        let body = doc.body();
        for s in segment(body) {
            let r = doc.raw_range(s.range());
            let raw_piece = &raw.as_bytes()[r.start as usize..r.end as usize];
            let without_cr: Vec<u8> = String::from_utf8_lossy(raw_piece).replace("\r\n", "\n").replace('\r', "\n").into_bytes();
            prop_assert_eq!(without_cr, s.text(body).as_bytes().to_vec());
        }
    }

    #[test]
    fn inclusion_probabilities_sum_to_the_target(
        weights in prop::collection::vec(0.01f64..100.0, 1..200),
        frac in 0.01f64..1.5,
    ) {
        let n = (weights.len() as f64 * frac).max(0.5);
        let pi = inclusion_probabilities(&weights, n).unwrap();
        prop_assert!(pi.iter().all(|&p| p > 0.0 && p <= 1.0));
        let expected = n.min(weights.len() as f64);
        prop_assert!((pi.iter().sum::<f64>() - expected).abs() < 1e-6 * expected.max(1.0));
    }
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{1,40}", ".{1,40}", r#"[a-z "\\\n\t\x00\x7fé😀]{1,30}"#]
}

fn snippet() -> impl Strategy<Value = Snippet> {
    (
        any_text(),
        prop_oneof![any_text(), Just(String::new())],
        prop::option::of((
            any_text(),
            0u64..1_000_000,
            0u64..1000,
            0u32..500,
            0usize..3,
        )),
        prop::option::of((
            any_text(),
            0.0f64..2.0,
            0.0f64..1.0,
            prop::option::of(1u32..100),
            any::<u64>(),
        )),
        prop::option::of((
            1e-9f64..=1.0,
            prop::option::of(0.0f64..1.0),
            1u64..1_000_000,
        )),
        prop::collection::vec((0usize..3, any_text()), 0..3),
    )
        .prop_map(
            |(prompt, completion, source, generator, selection, labels)| {
                let source = source.map(|(document, start, len, region, split)| Source {
                    document,
                    start,
                    end: start + len,
                    region,
                    split: [Split::Train, Split::Validation, Split::Test][split],
                });
                let generator =
                    generator.map(|(model, temperature, top_p, top_k, seed)| Generator {
                        model,
                        settings: SamplingSettings {
                            temperature,
                            top_p,
                            top_k,
                            ..SamplingSettings::default()
                        },
                        seed,
                    });
                let selection = selection.map(|(probability, score, population)| Selection {
                    strategy: "lexicon-poisson".into(),
                    probability,
                    score,
                    population,
                    stratum: None,
                });
                let mut s = Snippet::new(prompt, completion, source, generator, selection);
                for (k, (v, note)) in labels.into_iter().enumerate() {
                    s.upsert_label(Label {
                        labeler: format!("labeler{k}"),
                        verdict: Verdict::ALL[v],
                        note,
                        time: "2025-01-01T00:00:00Z".into(),
                        version: None,
                    });
                }
                s
            },
        )
        .prop_filter("prompt must not be blank", |s| !s.prompt.trim().is_empty())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn jsonl_round_trips(snips in prop::collection::vec(snippet(), 1..8)) {
        let line = serde_json::to_string(&snips[0]).unwrap();
        prop_assert!(!line.contains('\n'), "one record per line");
        let back: Snippet = serde_json::from_str(&line).unwrap();
        prop_assert_eq!(&back, &snips[0]);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let mut store = Store::open(&path).unwrap();
        store.append(snips.clone()).unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        let mut expected: Vec<Snippet> = Vec::new();
        for s in snips {
            match expected.iter_mut().find(|e| e.content_hash() == s.content_hash()) {
                Some(e) => {
                    for l in s.labels {
                        e.upsert_label(l);
                    }
                }
                None => expected.push(s),
            }
        }
        let got: Vec<Snippet> = store.iter().cloned().collect();
        prop_assert_eq!(got, expected);
    }
}
