//! Whether a cue is asserted: passive voice, modal and conditional verb groups, negation,
//! curses, feelings, abstract agents, and injuries marked as new.

use super::*;

/// Whether the cue at `i` is in the passive voice (or a participle describing its subject);
/// an -ing form never is (`lay burning`).
pub(super) fn is_passive(s: &Sentence, i: usize) -> bool {
    if s.toks[i].w.ends_with("ing") {
        return false;
    }
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        let w = t.w.as_str();
        if is_in(List::PassiveAux, w) {
            return true;
        }
        // "were struck down and killed": a participle coordinated with a passive one.
        if w == "and" && j > 0 {
            let mut p = j - 1;
            if p > 0 && matches!(s.toks[p].w.as_str(), "down" | "off" | "up" | "out" | "over") {
                p -= 1;
            }
            if !s.toks[p].punct && is_participle(&s.toks[p].w) && is_passive(s, p) {
                return true;
            }
            break;
        }
        if is_adverb(w)
            || matches!(
                w,
                "not"
                    | "never"
                    | "also"
                    | "all"
                    | "both"
                    | "then"
                    | "nearly"
                    | "almost"
                    | "once"
                    | "twice"
                    | "again"
                    | "being"
                    | "been"
                    | "just"
                    | "so"
                    | "too"
                    | "very"
            )
        {
            continue;
        }
        break;
    }
    word(s, i + 1) == Some("by") && word(s, i + 2).is_some()
}

/// The modal, negation or avoidance word governing the verb group that ends at `i`.
pub(super) fn verb_group_modality(s: &Sentence, i: usize) -> Option<(Rule, String)> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        let w = t.w.as_str();
        if is_in(List::Negators, w) {
            return Some((Rule::Negated, w.into()));
        }
        if is_in(List::Avoiders, w) {
            return Some((Rule::Avoided, w.into()));
        }
        if is_in(List::Hypotheticals, w) {
            // "about", "going", "ready" only as "about to", "going to".
            let needs_to = matches!(
                w,
                "about"
                    | "going"
                    | "ready"
                    | "want"
                    | "wants"
                    | "wanted"
                    | "meant"
                    | "mean"
                    | "means"
                    | "intended"
                    | "intend"
                    | "intends"
                    | "tried"
                    | "try"
                    | "tries"
                    | "trying"
                    | "attempted"
                    | "attempt"
                    | "attempting"
                    | "planned"
                    | "plan"
                    | "dare"
                    | "dared"
                    | "longed"
                    | "determined"
                    | "resolved"
                    | "swore"
                    | "swear"
                    | "vowed"
                    | "vow"
                    | "promised"
                    | "threatens"
                    | "threaten"
                    | "threatening"
                    | "threatened"
            );
            if !needs_to
                || word(s, j + 1) == Some("to")
                || matches!(
                    w,
                    "threatened" | "threatening" | "threaten" | "threatens" | "attempted"
                )
            {
                return Some((Rule::Hypothetical, w.into()));
            }
            return None;
        }
        // Objects and pronouns between a verb and an infinitive: "threatened him to".
        if is_in(List::VerbFillers, w) || is_adverb(w) || is_in(List::PhysicalQualifiers, w) {
            continue;
        }
        if matches!(
            w,
            "being"
                | "he"
                | "she"
                | "i"
                | "we"
                | "they"
                | "you"
                | "him"
                | "her"
                | "them"
                | "me"
                | "us"
        ) && (j + 1 < i
            || j > 0
                && (is_in(List::VerbFillers, &s.toks[j - 1].w)
                    || is_in(List::Hypotheticals, &s.toks[j - 1].w)
                    || is_in(List::Negators, &s.toks[j - 1].w)))
        {
            // "escaped being shot", "would he hurt": keep looking past one pronoun.
            continue;
        }
        break;
    }
    None
}

/// A conditional or simile opener earlier in the clause, or a question mark after the cue.
pub(super) fn clause_modality(s: &Sentence, i: usize) -> Option<(Rule, String)> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            break;
        }
        if is_in(List::HypotheticalOpeners, &t.w) {
            if t.w == "if" && j > 0 && s.toks[j - 1].w == "as" {
                return Some((Rule::Hypothetical, "as if".into()));
            }
            return Some((Rule::Hypothetical, t.w.clone()));
        }
        if t.w == "though" && j > 0 && s.toks[j - 1].w == "as" {
            return Some((Rule::Hypothetical, "as though".into()));
        }
        if t.w == "like"
            && s.toks[j + 1..i]
                .iter()
                .all(|x| is_in(List::Skippable, &x.w))
        {
            return Some((Rule::Hypothetical, "like".into()));
        }
    }
    for t in &s.toks[i + 1..] {
        if t.is("?") {
            return Some((Rule::Hypothetical, "question".into()));
        }
        if t.is(".") || t.is("!") || t.is(";") {
            break;
        }
    }
    if s.question
        && !s.toks[i + 1..]
            .iter()
            .any(|t| t.is(".") || t.is("!") || t.is(";"))
    {
        return Some((Rule::Hypothetical, "question".into()));
    }
    None
}

/// A curse (`Lord strike you dead`, `God damn`) or a modal before its subject (`may
/// lightning strike me`, `would the blow kill him`): the injury is wished or asked about.
pub(super) fn curse_or_inverted_modal(s: &Sentence, i: usize) -> Option<String> {
    let from = i.saturating_sub(3);
    let window = &s.toks[from..i];
    if window.iter().any(|t| t.punct) {
        return None;
    }
    if let Some(t) = window.last()
        && matches!(
            t.w.as_str(),
            "lord"
                | "god"
                | "heaven"
                | "heavens"
                | "devil"
                | "curses"
                | "curse"
                | "plague"
                | "pox"
                | "damn"
        )
    {
        return Some("curse".into());
    }
    if i >= 2
        && let Some(t) = window
            .iter()
            .find(|t| matches!(t.w.as_str(), "may" | "let"))
        && !is_in(List::VerbFillers, &s.toks[i - 1].w)
    {
        return Some(t.w.clone());
    }
    None
}

/// A feeling verb right before the cue, adverbs skipped (`felt deeply injured`).
pub(super) fn feeling_verb_before(s: &Sentence, i: usize) -> Option<String> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &s.toks[j];
        if t.punct {
            return None;
        }
        if is_in(List::FeelingVerbs, t.w.as_str()) {
            return Some(t.w.clone());
        }
        if !(is_adverb(&t.w)
            || matches!(
                t.w.as_str(),
                "so" | "very" | "much" | "quite" | "too" | "rather"
            ))
        {
            return None;
        }
    }
    None
}

/// Abstract agent after `by`/`with` ("struck by her beauty", "crushed by the news").
pub(super) fn abstract_agent(s: &Sentence, i: usize) -> Option<String> {
    let w = word(s, i + 1)?;
    if !matches!(w, "by" | "with") {
        return None;
    }
    for k in i + 2..(i + 6).min(s.toks.len()) {
        let t = &s.toks[k];
        if t.punct {
            return None;
        }
        if is_in(List::Abstract, &t.w) {
            return Some(t.w.clone());
        }
        if !(is_in(List::Skippable, &t.w)
            || is_in(List::Possessives, &t.w)
            || is_adverb(&t.w)
            || t.w == "sudden")
        {
            return None;
        }
    }
    None
}

/// Whether a state cue at `i` is marked as a new injury: `another wound`, `fresh blood`,
/// `wounded again`, `a second wound`.
pub(super) fn marked_new(s: &Sentence, i: usize) -> bool {
    let before = i.saturating_sub(3);
    s.toks[before..i]
        .iter()
        .any(|t| is_in(List::NewMarkers, t.w.as_str()))
        || s.toks[i + 1..(i + 4).min(s.toks.len())]
            .iter()
            .take_while(|t| !t.punct)
            .any(|t| matches!(t.w.as_str(), "again" | "anew"))
}

pub(super) fn with_modality(s: &Sentence, i: usize, outcome: Outcome) -> Outcome {
    if let Some((rule, by)) = verb_group_modality(s, i).or_else(|| clause_modality(s, i)) {
        return Outcome::Set(rule, by);
    }
    outcome
}
