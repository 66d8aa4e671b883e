//! Who a cue happens to: people, animals treated as characters, body parts and their owners,
//! things; the subject or object of a cue verb.

use super::*;

/// Victim classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Victim {
    Being(String),
    Part(String),
    Thing(String),
    Abstract(String),
    Negative(String),
    Unknown,
}

pub(super) fn classify(t: &Tok) -> Option<Victim> {
    let w = t.w.as_str();
    if is_in(List::NegativePronouns, w) {
        return Some(Victim::Negative(w.into()));
    }
    if is_in(List::Objects, w) {
        return Some(Victim::Thing(w.into()));
    }
    // "cabin-boy", "drummer-boy": a hyphenated person is a person.
    let last = w.rsplit_once('-').map_or(w, |(_, l)| l);
    if is_in(List::People, w) || is_in(List::Animals, w) || is_in(List::People, last) {
        return Some(Victim::Being(w.into()));
    }
    if is_in(List::BodyParts, w) {
        return Some(Victim::Part(w.into()));
    }
    if is_in(List::Abstract, w) {
        return Some(Victim::Abstract(w.into()));
    }
    if is_person(w) {
        return Some(Victim::Being(w.into()));
    }
    None
}

/// A plural of a listed person or animal (`smugglers`, `wolves`), or a person noun made with a
/// suffix (`fireman`, `ploughboy`, `housemaid`).
pub(super) fn is_person(w: &str) -> bool {
    let being = |x: &str| is_in(List::People, x) || is_in(List::Animals, x);
    let plural = w
        .strip_suffix("es")
        .is_some_and(|x| x.len() > 2 && being(x))
        || w.strip_suffix('s').is_some_and(|x| x.len() > 2 && being(x));
    plural
        || (!lexicon::is_listed(w)
            && w.chars().all(|c| c.is_alphabetic())
            && lexicon::words(List::PersonSuffixes)
                .iter()
                .any(|suffix| w.len() >= suffix.len() + 3 && w.ends_with(suffix)))
}

pub(super) fn is_known_word(w: &str) -> bool {
    lexicon::is_listed(w)
        || is_in(List::NumberWords, w)
        || is_in(List::NotNames, w)
        || matches!(
            w,
            "it" | "and" | "but" | "or" | "then" | "when" | "while" | "there" | "here" | "which"
        )
}

/// A capitalized word that is no known word: a name.
pub(super) fn is_name(t: &Tok) -> bool {
    t.cap && !t.punct && t.w != "i" && !is_known_word(&t.w) && classify(t).is_none()
}

/// [`is_name`] at index `j`, and not after a determiner or number (`the Pequod`, `two Miles`
/// are capitalized nouns).
pub(super) fn is_name_at(s: &Sentence, j: usize) -> bool {
    is_name(&s.toks[j])
        && !(j > 0
            && (matches!(
                s.toks[j - 1].w.as_str(),
                "the" | "a" | "an" | "this" | "that"
            ) || is_in(List::NumberWords, s.toks[j - 1].w.as_str())))
}

/// Resolves the owner of a body part at index `part` (possessor to its left, or `of X` to its
/// right).
pub(super) fn part_owner(s: &Sentence, part: usize) -> Victim {
    // "the robot's arm", "his arm"
    let mut j = part;
    for _ in 0..3 {
        if j == 0 {
            break;
        }
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if t.poss {
            return match classify(t) {
                Some(v @ Victim::Thing(_)) => v,
                _ => Victim::Being(t.w.clone()),
            };
        }
        if is_in(List::Possessives, &t.w) {
            return Victim::Being(t.w.clone());
        }
        if t.w == "its" {
            // "knocked the dummy flat, breaking its arm": the nearest thing or being before;
            // `it` nearer than any ("seized it and bit its head off") is a thing; with none
            // before, the first after ("shot its legs from under it, and the machine fell").
            let owner = |x: &Tok| match classify(x) {
                Some(v @ Victim::Thing(_)) => Some(v),
                Some(Victim::Being(b)) => Some(Victim::Being(b)),
                _ if x.w == "it" => Some(Victim::Thing("it".into())),
                _ => None,
            };
            return s.toks[..j]
                .iter()
                .rev()
                .find_map(owner)
                .or_else(|| s.toks[part + 1..].iter().find_map(owner))
                .unwrap_or(Victim::Unknown);
        }
        if let Some(Victim::Thing(w)) = classify(t) {
            // "the table leg"
            return Victim::Thing(w);
        }
    }
    // "the arm of the statue"
    if word(s, part + 1) == Some("of") {
        for k in part + 2..(part + 5).min(s.toks.len()) {
            let t = &s.toks[k];
            if t.punct {
                break;
            }
            match classify(t) {
                Some(v @ Victim::Thing(_)) => return v,
                Some(Victim::Being(w)) => return Victim::Being(w),
                _ => {}
            }
            if is_name(t) || is_in(List::ObjectPronouns, &t.w) {
                return Victim::Being(t.w.clone());
            }
        }
    }
    Victim::Unknown
}

pub(super) fn resolve_part(s: &Sentence, idx: usize, part: &str) -> Victim {
    match part_owner(s, idx) {
        Victim::Thing(w) => Victim::Thing(w),
        Victim::Being(owner) => Victim::Part(format!("{owner} {part}")),
        _ => Victim::Part(part.to_string()),
    }
}

/// The victim to the right of index `i` (the object, or the noun an adjective describes),
/// with its token index.
pub(super) fn right_victim(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    let mut after_possessive = false;
    let mut j = i + 1;
    let mut steps = 0;
    while j < s.toks.len() && steps < 5 {
        steps += 1;
        let t = &s.toks[j];
        if t.punct
            || matches!(
                t.w.as_str(),
                "and" | "but" | "or" | "then" | "while" | "when"
            )
        {
            break;
        }
        let w = t.w.as_str();
        if after_possessive && is_in(List::BodyParts, w) {
            return (resolve_part(s, j, w), Some(j));
        }
        let particle = j == i + 1
            && matches!(w, "off" | "out" | "up" | "open" | "away")
            && matches!(
                s.toks[i].w.as_str(),
                "cut" | "tore" | "torn" | "tear" | "struck" | "knocked" | "ripped"
            );
        if is_in(List::Prepositions, w) && !after_possessive && !particle {
            break;
        }
        if particle {
            j += 1;
            continue;
        }
        if w == "her" {
            // "her" before a noun is a possessive, also before a noun no list knows ("cut her
            // hair", "burnt her letters"); before a particle, an adverb or a cue it is the
            // object ("struck her down", "stabbed her twice", "shot her dead").
            let next_is_noun = s.toks.get(j + 1).is_some_and(|n| {
                let w = n.w.as_str();
                !n.punct
                    && (classify(n).is_some()
                        || is_in(List::Skippable, w)
                        || !(n.cap
                            || is_known_word(w)
                            || is_adverb(w)
                            || lexicon::cue_kind(w).is_some()
                            || matches!(
                                w,
                                "twice"
                                    | "thrice"
                                    | "hard"
                                    | "full"
                                    | "square"
                                    | "so"
                                    | "too"
                                    | "as"
                                    | "where"
                                    | "till"
                                    | "until"
                                    | "unconscious"
                                    | "senseless"
                                    | "insensible"
                                    | "flat"
                            )))
            });
            if next_is_noun {
                after_possessive = true;
                j += 1;
                continue;
            }
            return (Victim::Being("her".into()), Some(j));
        }
        if is_in(List::NegativePronouns, w) {
            return (Victim::Negative(w.into()), Some(j));
        }
        if is_in(List::ObjectPronouns, w) {
            return (Victim::Being(w.into()), Some(j));
        }
        if is_in(List::Possessives, w) || w == "its" {
            after_possessive = true;
            j += 1;
            continue;
        }
        if t.poss {
            // "the whale's flank": look on for the thing owned; fall back to the owner.
            let owner = match classify(t) {
                Some(v @ Victim::Thing(_)) => v,
                Some(Victim::Being(b)) => Victim::Being(b),
                _ if is_name(t) => Victim::Being(w.into()),
                _ => Victim::Unknown,
            };
            let (owned, k) = right_victim(s, j);
            return match owned {
                Victim::Part(p) => match owner {
                    Victim::Thing(o) => (Victim::Thing(o), k),
                    _ => (Victim::Part(p), k),
                },
                Victim::Unknown => (owner, Some(j)),
                other => (other, k),
            };
        }
        // "crushed the bones of his toes": a being's bones are body parts.
        if matches!(w, "bones" | "bone")
            && word(s, j + 1) == Some("of")
            && let (Victim::Part(owner) | Victim::Being(owner), k) = right_victim(s, j + 1)
        {
            return (Victim::Part(format!("{owner} {w}")), k);
        }
        match classify(t) {
            Some(Victim::Part(p)) => return (resolve_part(s, j, &p), Some(j)),
            Some(v) => return (v, Some(j)),
            None => {}
        }
        if is_name_at(s, j) {
            return (Victim::Being(w.into()), Some(j));
        }
        if after_possessive && !is_in(List::Skippable, w) && !is_adverb(w) {
            // "slashed his whip": the thing owned is no body part.
            return (Victim::Unknown, Some(j));
        }
        if w == "it" {
            return (Victim::Unknown, Some(j));
        }
        // "cut one of them down", "killed two of the men".
        if (is_in(List::NumberWords, w) || matches!(w, "some" | "many" | "each" | "most"))
            && word(s, j + 1) == Some("of")
        {
            j += 2;
            continue;
        }
        j += 1;
    }
    (Victim::Unknown, None)
}

/// The subject to the left of index `i`, skipping auxiliaries, adverbs and `and`; with its
/// token index.
pub(super) fn left_subject(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    let mut j = i;
    let mut steps = 0;
    while j > 0 && steps < 7 {
        j -= 1;
        steps += 1;
        let t = &s.toks[j];
        if t.punct && !t.is(",") {
            break;
        }
        if t.punct {
            continue;
        }
        let w = t.w.as_str();
        if is_in(List::SubjectPronouns, w) || is_in(List::ObjectPronouns, w) || w == "her" {
            return (Victim::Being(w.into()), Some(j));
        }
        if matches!(w, "it" | "which" | "what" | "this") {
            return (Victim::Unknown, Some(j));
        }
        match classify(t) {
            Some(Victim::Part(p)) => return (resolve_part(s, j, &p), Some(j)),
            Some(v) => return (v, Some(j)),
            None => {}
        }
        if is_name_at(s, j) {
            if j > 0 && s.toks[j - 1].w == "of" {
                // "the tropic of Capricorn": the head noun is further left.
                continue;
            }
            return (Victim::Being(w.into()), Some(j));
        }
        // An unknown word is the subject's head noun unless it is a coordinated verb
        // ("stumbled and was killed") or an adverb or filler.
        // "dragged down and torn": a verb and its particle before "and".
        let coordinated = s.toks.get(j + 1).is_some_and(|n| n.w == "and" || n.is(","))
            || (s
                .toks
                .get(j + 1)
                .is_some_and(|n| is_in(List::Prepositions, &n.w))
                && s.toks.get(j + 2).is_some_and(|n| n.w == "and"));
        if !(t.cap || coordinated || is_adverb(w) || is_known_word(w)) {
            return (Victim::Unknown, Some(j));
        }
    }
    (Victim::Unknown, None)
}

/// Whether the token before index `v` (skipping determiners) is a negator: `not a man`.
pub(super) fn negated_noun(s: &Sentence, v: usize) -> Option<String> {
    let mut j = v;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            return None;
        }
        if is_in(List::Negators, &t.w) {
            return Some(t.w.clone());
        }
        if !matches!(
            t.w.as_str(),
            "a" | "an" | "single" | "one" | "of" | "the" | "them" | "us" | "any"
        ) {
            return None;
        }
    }
    None
}

/// The first being named in the sentence (a pronoun, a person, an animal or a name), other
/// than at the cue itself.
pub(super) fn being_in_sentence(s: &Sentence, cue: usize) -> Option<String> {
    s.toks.iter().enumerate().find_map(|(k, t)| {
        if k == cue || t.punct {
            return None;
        }
        let w = t.w.as_str();
        let being = is_in(List::SubjectPronouns, w)
            || is_in(List::ObjectPronouns, w)
            || is_in(List::People, w)
            || is_in(List::Animals, w)
            || is_name(t);
        being.then(|| w.to_string())
    })
}

/// The first body part of a being named in the sentence before the cue (`his wrist`, `the
/// boy's leg`).
pub(super) fn part_in_sentence(s: &Sentence, cue: usize) -> Option<String> {
    // "his arm bent under him, broken.": a participle alone at the end describes the part
    // named last.
    let appended =
        cue > 0 && s.toks[cue - 1].is(",") && s.toks.get(cue + 1).is_none_or(|t| t.punct);
    let mut found = s.toks[..cue].iter().enumerate().filter_map(|(k, t)| {
        // Only fillers between: "his legs badly burned", "his wrist, which was broken".
        let between = &s.toks[k + 1..cue];
        let close = appended
            || between.iter().enumerate().all(|(n, b)| {
                matches!(
                    b.w.as_str(),
                    "which"
                        | "that"
                        | "was"
                        | "were"
                        | "is"
                        | "had"
                        | "been"
                        | "being"
                        | "so"
                        | "very"
                        | "too"
                ) || is_adverb(&b.w)
                    || is_in(List::PhysicalQualifiers, &b.w)
                    || (b.is(",")
                        && between
                            .get(n + 1)
                            .is_some_and(|x| matches!(x.w.as_str(), "which" | "that")))
            });
        let part = close
            && is_in(List::BodyParts, &t.w)
            && (!t.cap || t.first)
            && !s.toks[k.saturating_sub(3)..k]
                .iter()
                .any(|p| is_in(List::Materials, &p.w))
            && (s.toks[..k]
                .iter()
                .rev()
                .take(4)
                .any(|p| is_in(List::Possessives, &p.w) || p.w.ends_with("'s"))
                // "the leg", "the left leg", not "the chairs had legs".
                || s.toks[k.saturating_sub(2)..k].iter().any(|p| p.w == "the")
                // "several had limbs broken": a part had broken.
                || k > 0
                    && matches!(s.toks[k - 1].w.as_str(), "had" | "has" | "have")
                    && matches!(
                        left_subject(s, k - 1),
                        (Victim::Being(_), _) | (Victim::Unknown, None)
                    ));
        part.then(|| t.w.clone())
    });
    if appended {
        found.next_back()
    } else {
        found.next()
    }
}

pub(super) fn noun_victim(s: &Sentence, i: usize) -> (Victim, Option<usize>) {
    // Possessor on the left: "his wound", "the captain's injuries".
    let mut j = i;
    for _ in 0..3 {
        if j == 0 {
            break;
        }
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if is_in(List::Negators, &t.w) {
            return (Victim::Negative(t.w.clone()), Some(j));
        }
        if t.poss {
            return match classify(t) {
                Some(v @ Victim::Thing(_)) => (v, Some(j)),
                _ => (Victim::Being(t.w.clone()), Some(j)),
            };
        }
        if is_in(List::Possessives, &t.w) {
            return (Victim::Being(t.w.clone()), Some(j));
        }
    }
    // "a wound in his side", "the wound of the ship".
    if let Some(p) = word(s, i + 1)
        && matches!(p, "in" | "on" | "to" | "of" | "upon" | "across")
    {
        let (v, k) = right_victim_after_prep(s, i + 1);
        if v != Victim::Unknown {
            return (v, k);
        }
    }
    (Victim::Unknown, None)
}

pub(super) fn right_victim_after_prep(s: &Sentence, p: usize) -> (Victim, Option<usize>) {
    // Reuse the object search from the preposition, which it would otherwise stop at.
    right_victim(s, p)
}
