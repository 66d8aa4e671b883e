//! What a sentence shows beyond its cue words: something driven into a body part (`drove the
//! fork into the back of the bandit`, `took a sabre cut across the shoulder`, `its jaws closed
//! upon his arm`), body parts of a material (effigies), things shattered to pieces, figurative
//! instruments (`cut him to ribbons with questions`) and times after a verb of dying.

use super::lexicon::{self, List, is_in};
use super::tokens::Sentence;
use super::{Hit, Outcome, word};

/// "drove the fork into the back of the bandit", "the ball passed through the hand of the
/// boy", "took young Carver in the throat": something driven into a being's body part.
pub(super) fn penetration(s: &Sentence) -> Option<Hit> {
    const VERBS: &[&str] = &[
        "drove",
        "driven",
        "plunged",
        "thrust",
        "sank",
        "sunk",
        "passed",
        "went",
        "ran",
        "bit",
        "took",
        "taking",
        "caught",
        "struck",
        "hit",
        "entered",
        "lodged",
        "tore",
        "ripped",
        "discharged",
        "buried",
        "shot",
        "pierced",
        "stabbed",
        "fired",
        "ate",
        "eaten",
        "burned",
        "burnt",
        "eating",
        "fastened",
        "fixed",
        "received",
    ];
    // Verbs of receiving a blow: also `across` ("took a sabre cut across the shoulder").
    const TAKE: &[&str] = &["took", "taking", "caught", "received"];
    const PREPS: &[&str] = &["into", "through", "between", "in"];
    const NOT_TARGETS: &[&str] = &["hair", "beard", "whiskers", "locks", "eyes", "eye", "face"];
    for (v, t) in s.toks.iter().enumerate() {
        // "its jaws closed upon his arm": teeth that close on a body part.
        let jaws = matches!(
            t.w.as_str(),
            "closed" | "met" | "snapped" | "fastened" | "fixed" | "sank" | "sunk"
        ) && s.toks[..v].iter().any(|x| {
            matches!(
                x.w.as_str(),
                "teeth" | "jaws" | "fangs" | "tusks" | "talons" | "claws" | "beak"
            )
        });
        if !VERBS.contains(&t.w.as_str()) && !jaws {
            continue;
        }
        let window = &s.toks[v + 1..(v + 9).min(s.toks.len())];
        for (k, p) in window.iter().enumerate() {
            if p.punct {
                break;
            }
            let across = p.w == "across" && TAKE.contains(&t.w.as_str());
            let upon = jaws && matches!(p.w.as_str(), "on" | "upon" | "round" | "about");
            if !(PREPS.contains(&p.w.as_str()) || across || upon) {
                continue;
            }
            let rest = &window[k + 1..];
            let part = rest
                .iter()
                .take(4)
                .position(|x| is_in(List::BodyParts, &x.w));
            if let Some(j) = part {
                let target = &rest[j];
                let owned = rest[..j]
                    .iter()
                    .any(|x| is_in(List::Possessives, &x.w) || x.w.ends_with("'s") || x.w == "the");
                let gesture = jaws && is_in(List::GestureParts, &target.w);
                if owned && !gesture && !NOT_TARGETS.contains(&target.w.as_str()) {
                    return Some(Hit {
                        cue: t.w.clone(),
                        outcome: Outcome::Injury {
                            victim: format!("{} {}", p.w, target.w),
                            state: false,
                        },
                    });
                }
            }
        }
    }
    None
}

/// "Lord Nelson's wax head ... and his arm": a body part of a material in the sentence makes
/// it about an effigy, whose parts are things.
pub(super) fn effigy(s: &Sentence) -> bool {
    s.toks
        .windows(2)
        .any(|w| is_in(List::Materials, &w[0].w) && is_in(List::BodyParts, &w[1].w))
}

/// A material right before the body part at `k`, or before an adjective before it (`marble
/// head`, `the wax, painted arm`), not before a possessive (`the stone struck his head`).
pub(super) fn material_before(s: &Sentence, k: usize) -> bool {
    let at = |j: usize| s.toks.get(j).is_some_and(|t| is_in(List::Materials, &t.w));
    k > 0 && at(k - 1)
        || k > 1
            && at(k - 2)
            && !is_in(List::Possessives, &s.toks[k - 1].w)
            && !s.toks[k - 1].poss
            && lexicon::cue_kind(&s.toks[k - 1].w).is_none()
}

/// `to pieces`, `into fragments` after index `a`: what shatters so is a thing.
pub(super) fn to_fragments(s: &Sentence, a: usize) -> bool {
    matches!(word(s, a + 1), Some("to" | "into"))
        && word(s, a + 2).is_some_and(|n| {
            matches!(
                n,
                "pieces" | "fragments" | "atoms" | "splinters" | "bits" | "shards" | "dust"
            )
        })
}

/// `with` and a figurative instrument (`with a dozen quiet questions`, `with a look`) in the
/// clause after index `from`.
pub(super) fn figurative_instrument(s: &Sentence, from: usize) -> Option<String> {
    let rest = s.toks.get(from + 1..)?;
    let clause = rest.iter().take_while(|t| !t.punct);
    let mut after_with = None;
    for t in clause {
        if t.w == "with" {
            after_with = Some(0);
            continue;
        }
        if let Some(n) = after_with.as_mut() {
            *n += 1;
            if *n > 4 {
                after_with = None;
            } else if is_in(List::FigurativeInstruments, &t.w) {
                return Some(format!("with {}", t.w));
            }
        }
    }
    None
}

/// A time (`an hour later`), not a victim, after a verb of dying.
pub(super) fn is_time(w: &str) -> bool {
    matches!(
        w,
        "hour"
            | "hours"
            | "day"
            | "days"
            | "morning"
            | "evening"
            | "afternoon"
            | "dawn"
            | "night"
            | "week"
            | "moment"
            | "time"
    )
}
