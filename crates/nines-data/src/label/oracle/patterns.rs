//! Rules that read more than one cue word: multi-word phrases (`[phrases]` in
//! `lexicon.toml`), `to death`, poisoning (a poison or bad food and a sign of sickness) and
//! squeezing a throat or neck.

use super::lexicon::{self, CueKind, List, PhraseKind, Slot, is_in};
use super::tokens::Sentence;
use super::{
    Hit, Outcome, Rule, Victim, being_in_sentence, classify, is_adverb, is_name_at, left_subject,
    part_owner, with_modality, word,
};

/// Whether the clause ends at `j` (punctuation, a conjunction, the end of the sentence).
fn clause_end(s: &Sentence, j: usize) -> bool {
    s.toks.get(j).is_none_or(|t| {
        t.punct
            || matches!(
                t.w.as_str(),
                "and" | "but" | "or" | "then" | "while" | "when"
            )
    })
}

/// A being starting at `j`, its determiners and adjectives skipped (`him`, `the old farmer`,
/// `his brother`, `one of them`): its word and the index after it.
pub(super) fn being_at(s: &Sentence, j: usize) -> Option<(String, usize)> {
    let mut k = j;
    for _ in 0..5 {
        let t = s.toks.get(k)?;
        if t.punct {
            return None;
        }
        let w = t.w.as_str();
        if is_in(List::ObjectPronouns, w) || is_in(List::SubjectPronouns, w) {
            return Some((w.to_string(), k + 1));
        }
        if w == "her" {
            // "her" alone, or "her brother".
            if let Some((b, next)) = being_at(s, k + 1).filter(|_| k + 1 < s.toks.len()) {
                return Some((b, next));
            }
            return Some(("her".into(), k + 1));
        }
        match classify(t) {
            Some(Victim::Being(b)) => return Some((b, k + 1)),
            Some(_) => return None,
            None => {}
        }
        if is_name_at(s, k) {
            return Some((w.to_string(), k + 1));
        }
        let quantifier = (is_in(List::NumberWords, w) || matches!(w, "some" | "many" | "each"))
            && word(s, k + 1) == Some("of");
        if quantifier {
            k += 2;
            continue;
        }
        if !(is_in(List::Skippable, w) || is_in(List::Possessives, w) || t.poss || is_adverb(w)) {
            return None;
        }
        k += 1;
    }
    None
}

/// Matches `slots` at `start`: the index after the match and the being it names, if any.
fn match_phrase(s: &Sentence, start: usize, slots: &[Slot]) -> Option<(usize, Option<String>)> {
    let mut j = start;
    let mut named = None;
    for slot in slots {
        match slot {
            Slot::Words(alternatives) => {
                if alternatives.contains(&"$end") && clause_end(s, j) {
                    continue;
                }
                let t = s.toks.get(j).filter(|t| !t.punct)?;
                if !alternatives.contains(&t.w.as_str()) {
                    return None;
                }
                j += 1;
            }
            Slot::Poss => {
                let t = s.toks.get(j).filter(|t| !t.punct)?;
                let owner = is_in(List::Possessives, &t.w)
                    || t.poss && !matches!(classify(t), Some(Victim::Thing(_)));
                if owner {
                    named.get_or_insert(t.w.clone());
                } else if !matches!(t.w.as_str(), "the" | "its") {
                    return None;
                }
                j += 1;
            }
            Slot::Part => {
                let t = s.toks.get(j).filter(|t| !t.punct)?;
                if !is_in(List::BodyParts, &t.w) {
                    return None;
                }
                j += 1;
            }
            Slot::Being => {
                let (b, next) = being_at(s, j)?;
                named.get_or_insert(b);
                j = next;
            }
            Slot::End => {
                if !clause_end(s, j) {
                    return None;
                }
            }
        }
    }
    Some((j, named))
}

/// The first being named before index `end` (a pronoun, a person, an animal or a name).
fn being_before(s: &Sentence, end: usize) -> Option<String> {
    being_in_sentence(s, usize::MAX).filter(|b| s.toks[..end].iter().any(|t| t.w == *b))
}

/// The being that opens the sentence (`He went under ...`), with its index.
fn sentence_subject(s: &Sentence) -> Option<(usize, String)> {
    let k = s.toks.iter().position(|t| !t.punct)?;
    being_at(s, k).map(|(b, next)| (next - 1, b))
}

/// The victim of a phrase that names none: its subject, else the first being before it, else
/// (for an injury that names a body part) any being in the sentence.
fn phrase_victim(s: &Sentence, start: usize) -> Option<String> {
    match left_subject(s, start) {
        (Victim::Being(b), _) => Some(b),
        // "came back, and passed away": a body part that is an adverb.
        (Victim::Part(_), _) => None,
        // "a month passed away": an unknown head noun is no being.
        (Victim::Negative(_) | Victim::Abstract(_), _) => None,
        // "laid it open to the bone": `it` is the wound, the being is elsewhere.
        (Victim::Unknown, Some(k)) if s.toks[k].w == "it" => {
            being_before(s, start).or_else(|| being_in_sentence(s, start))
        }
        (Victim::Unknown, Some(_)) => sentence_subject(s)
            .filter(|(k, _)| *k < start)
            .map(|(_, b)| b),
        // A thing cannot die; the grammar missed the being.
        _ => being_before(s, start).or_else(|| being_in_sentence(s, start)),
    }
}

/// Phrase hits of a sentence, and which tokens idiom phrases cover (their cue words are not
/// judged on their own).
pub(super) fn phrase_hits(s: &Sentence) -> (Vec<Hit>, Vec<bool>) {
    let mut hits = Vec::new();
    let mut covered = vec![false; s.toks.len()];
    for start in 0..s.toks.len() {
        if s.toks[start].punct {
            continue;
        }
        for (kind, slots) in lexicon::phrases() {
            let Some((end, named)) = match_phrase(s, start, slots) else {
                continue;
            };
            let cue = s.toks[start..end]
                .iter()
                .map(|t| t.w.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            match kind {
                PhraseKind::Idiom => {
                    covered[start..end].iter_mut().for_each(|c| *c = true);
                    hits.push(Hit {
                        outcome: Outcome::Set(Rule::Idiom, cue.clone()),
                        cue,
                    });
                }
                // "bit its head off": `its` is a thing's as often as an animal's, and the
                // subject is no victim of it.
                PhraseKind::Injury | PhraseKind::State
                    if named.is_none() && s.toks[start..end].iter().any(|t| t.w == "its") => {}
                PhraseKind::Injury | PhraseKind::State => {
                    let Some(victim) = named.or_else(|| phrase_victim(s, start)) else {
                        continue;
                    };
                    let state = *kind == PhraseKind::State;
                    hits.push(Hit {
                        outcome: with_modality(s, start, Outcome::Injury { victim, state }),
                        cue,
                    });
                }
            }
        }
    }
    (hits, covered)
}

/// `frozen to death`, `crushed to death` (an injury), `bored to death` (an idiom).
pub(super) fn to_death(s: &Sentence) -> Vec<Hit> {
    let mut hits = Vec::new();
    for (i, t) in s.toks.iter().enumerate() {
        if t.w != "death" || i < 2 || word(s, i - 1) != Some("to") {
            continue;
        }
        // The verb: the word before "to", or before its object ("starved him to death").
        let Some(v) = (i.saturating_sub(5)..i - 1).rev().find(|&v| {
            word(s, v).is_some_and(|w| {
                is_in(List::ToDeathVerbs, w)
                    || is_in(List::ToDeathIdioms, w)
                    || lexicon::cue_kind(w).is_some_and(|k| k != CueKind::Hurt)
            })
        }) else {
            continue;
        };
        let verb = s.toks[v].w.as_str();
        let cue = format!("{verb} to death");
        // "bored the villagers to death": the verb may stand before its object.
        let idiom = s.toks[i.saturating_sub(6)..i - 1]
            .iter()
            .any(|t| is_in(List::ToDeathIdioms, &t.w));
        if idiom {
            hits.push(Hit {
                outcome: Outcome::Set(Rule::Idiom, cue.clone()),
                cue,
            });
            continue;
        }
        // The object, else the subject ("the traitors were put to death": a noun the lists do
        // not know is still the one put to death), else a being in the sentence.
        let victim = match being_at(s, v + 1) {
            Some((b, _)) => Some(b),
            None => match left_subject(s, v) {
                (Victim::Being(b) | Victim::Part(b), _) => Some(b),
                (Victim::Unknown, Some(k)) if s.toks[k].w != "it" => Some(s.toks[k].w.clone()),
                _ => being_in_sentence(s, i),
            },
        };
        if let Some(victim) = victim {
            hits.push(Hit {
                outcome: with_modality(
                    s,
                    v,
                    Outcome::Injury {
                        victim,
                        state: false,
                    },
                ),
                cue,
            });
        }
    }
    hits
}

/// Whether the sickness word at `k` is a state of sickness (`taken ill`, `was sick`, `in a
/// fit`), not `ill at ease`, `sick of it`, `fit for`.
fn sick_at(s: &Sentence, k: usize) -> bool {
    let w = s.toks[k].w.as_str();
    let prev = k.checked_sub(1).map(|p| s.toks[p].w.as_str());
    let next = word(s, k + 1);
    match w {
        "ill" | "sick" => {
            prev.is_some_and(|p| {
                matches!(
                    p,
                    "," | "felt"
                        | "turned"
                        | "taken"
                        | "fell"
                        | "falls"
                        | "was"
                        | "were"
                        | "is"
                        | "are"
                        | "grew"
                        | "became"
                        | "becomes"
                        | "violently"
                        | "very"
                        | "dangerously"
                        | "seriously"
                        | "desperately"
                        | "so"
                        | "lay"
                        | "been"
                        | "too"
                )
            }) && !next.is_some_and(|n| {
                matches!(n, "at" | "of" | "will" | "humour" | "humor" | "to" | "for")
            })
        }
        "fit" | "fits" => {
            prev.is_some_and(|p| matches!(p, "a" | "in" | "with" | "into"))
                && !next.is_some_and(|n| matches!(n, "for" | "of"))
        }
        _ => true,
    }
}

/// A poison, bad food or drink, or eating and drinking, with a sign of sickness and a being in
/// the same sentence: `It was full of arsenic, and he was taken with violent pains.`
pub(super) fn poisoning(s: &Sentence) -> Option<Hit> {
    let cause = s.toks.iter().find(|t| {
        !t.punct
            && (is_in(List::Poisons, &t.w)
                || is_in(List::Drugs, &t.w)
                || is_in(List::Spoiled, &t.w)
                || is_in(List::Ingestion, &t.w))
    })?;
    // A poison given ("dosed with antimony", "had given him strychnine") is a poisoning; else
    // a sign of sickness is needed.
    let given = s
        .toks
        .iter()
        .position(|t| is_in(List::Administer, &t.w))
        .filter(|_| s.toks.iter().any(|t| is_in(List::Poisons, &t.w)));
    // Stupor is a sign only after a poison or a drug ("laced with poison, and he fell
    // senseless"), not after drink ("drank until he fell senseless").
    let drugged = s
        .toks
        .iter()
        .any(|t| is_in(List::Poisons, &t.w) || is_in(List::Drugs, &t.w));
    let k = given.or_else(|| {
        (0..s.toks.len()).find(|&k| {
            let w = s.toks[k].w.as_str();
            !s.toks[k].punct
                && (is_in(List::Sickness, w) && sick_at(s, k)
                    || drugged && is_in(List::StuporSigns, w))
        })
    })?;
    let victim = being_in_sentence(s, k)?;
    match with_modality(
        s,
        k,
        Outcome::Injury {
            victim,
            state: false,
        },
    ) {
        outcome @ Outcome::Injury { .. } => Some(Hit {
            cue: format!("{} {}", cause.w, s.toks[k].w),
            outcome,
        }),
        Outcome::Set(..) => None,
    }
}

/// A being's throat squeezed (`fingers about the watchman's throat`), or a neck
/// (`the rope tightened about his neck`), unless the sentence is an embrace.
pub(super) fn constriction(s: &Sentence) -> Option<Hit> {
    if s.toks.iter().any(|t| is_in(List::Embrace, &t.w)) {
        return None;
    }
    for (k, t) in s.toks.iter().enumerate() {
        let throat = matches!(t.w.as_str(), "throat" | "throats" | "windpipe" | "gullet");
        let neck = matches!(t.w.as_str(), "neck" | "necks");
        if !(throat || neck) {
            continue;
        }
        let Victim::Being(owner) = part_owner(s, k) else {
            continue;
        };
        let from = k.saturating_sub(10);
        let to = (k + 4).min(s.toks.len());
        // Fingers and hands squeeze only when about or round the throat ("his fingers about
        // the watchman's throat", not "washing his hands and gargling his throat").
        let squeeze = (from..to).find(|&j| {
            let w = s.toks[j].w.as_str();
            let hands = matches!(w, "fingers" | "hands");
            j != k
                && is_in(List::Constriction, w)
                && (!hands
                    || throat
                        && j < k
                        && s.toks[j + 1..k].len() <= 4
                        && s.toks[j + 1..k].iter().any(|x| {
                            matches!(x.w.as_str(), "about" | "round" | "around" | "on" | "upon")
                        }))
        });
        if let Some(j) = squeeze
            && let outcome @ Outcome::Injury { .. } = with_modality(
                s,
                j,
                Outcome::Injury {
                    victim: format!("{owner} {}", t.w),
                    state: false,
                },
            )
        {
            return Some(Hit {
                cue: s.toks[j].w.clone(),
                outcome,
            });
        }
    }
    None
}
