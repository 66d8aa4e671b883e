//! What one injury cue means in its sentence: the rules that turn a cue into an injury, a
//! safe use or an unsure verdict.

use super::*;

pub(super) fn eval_cue(s: &Sentence, i: usize, mut kind: CueKind) -> Option<Outcome> {
    // "half-drowned" is judged as "drowned".
    let full = s.toks[i].w.as_str();
    let w = if lexicon::cue_kind(full).is_some() {
        full
    } else {
        full.rsplit_once('-').map_or(full, |(_, last)| last)
    };
    let prev = if i > 0 { word(s, i - 1) } else { None };
    // Nouns that look like verbs, and "wound" the past of "wind".
    let after_det = prev.is_some_and(|p| is_in(List::NounDeterminers, p));
    match w {
        "wound" => {
            if after_det {
                kind = CueKind::Noun;
            } else if !prev.is_some_and(|p| {
                matches!(
                    p,
                    "to" | "will"
                        | "would"
                        | "shall"
                        | "not"
                        | "may"
                        | "might"
                        | "could"
                        | "should"
                        | "must"
                        | "can"
                )
            }) {
                return None;
            }
        }
        "murder" | "cut" if after_det => kind = CueKind::Noun,
        "shot" | "hit" | "strike" | "strikes" | "kick" | "punch" | "beat" | "bit" | "bite"
        | "stab" | "kill" | "hurt" | "break" | "breaks" | "harpoon" | "spear" | "club"
        | "lance" | "claw" | "whip" | "burn" | "sting" | "crack" | "snap" | "tear" | "twist"
        | "graze" | "crush" | "gore" | "slash" | "butcher" | "slaughter" | "massacre"
        | "sprain" | "poison" | "die"
            if after_det =>
        {
            return None;
        }
        "bit" if word(s, i + 1) == Some("by") => return None, // "bit by bit"
        // "frozen to death" is judged with its verb (patterns::to_death).
        "death" | "deaths" if prev == Some("to") => return None,
        // "the stove", "stove in his ribs".
        "stove" if word(s, i + 1) != Some("in") => return None,
        _ => {}
    }
    // "a dead lull", "his skewered feather", "my burning arm" (with fever): a cue between a
    // determiner and a noun is an adjective; of a thing or a feeling, no injury.
    if !matches!(kind, CueKind::Noun | CueKind::Blood)
        && (kind != CueKind::Condition || matches!(w, "dead" | "dying"))
        && prev.is_some_and(|p| {
            matches!(p, "a" | "an" | "the" | "with") || is_in(List::Possessives, p)
        })
        && s.toks.get(i + 1).is_some_and(|n| {
            !n.punct
                && (w.ends_with("ing") && is_in(List::BodyParts, &n.w)
                    || !(is_in(List::Prepositions, &n.w)
                        || is_in(List::Skippable, &n.w)
                        || is_adverb(&n.w)
                        || n.cap
                        || matches!(classify(n), Some(Victim::Being(_) | Victim::Part(_)))))
        })
    {
        return None;
    }
    // "succumbed to his conviction", "died to the world": a death to something abstract.
    if kind == CueKind::Lethal
        && word(s, i + 1) == Some("to")
        && let (Victim::Abstract(a), _) = right_victim(s, i + 1)
    {
        return Some(Outcome::Set(Rule::Idiom, a));
    }
    // "it was poison", "it is murder": after a copula, a verb's base form is a noun.
    if matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart)
        && prev.is_some_and(|p| matches!(p, "was" | "is" | "were" | "are" | "be" | "been"))
        && !is_participle(w)
        && !w.ends_with("ing")
    {
        return None;
    }
    // "dead tired", "dying to know", "choked back her tears", "killed time".
    if let Some(phrase) = lexicon::idioms_after(w).iter().find(|phrase| {
        phrase
            .iter()
            .enumerate()
            .all(|(k, p)| word(s, i + 1 + k) == Some(*p))
    }) {
        return Some(Outcome::Set(Rule::Idiom, phrase.join(" ")));
    }
    if kind == CueKind::Blood {
        return Some(eval_blood(s, i));
    }
    // An attempt: "struck at him", "shot at the man".
    // ("killed at once", "shot at dawn" are not attempts.)
    // A place after a passive is where, not an attempt: "was hanged at Newgate".
    let place_after = is_passive(s, i) && s.toks.get(i + 2).is_some_and(|t| t.cap && !t.punct);
    if matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart)
        && word(s, i + 1) == Some("at")
        && !place_after
        && !word(s, i + 2).is_some_and(|n| {
            matches!(
                n,
                "once"
                    | "last"
                    | "first"
                    | "length"
                    | "least"
                    | "dawn"
                    | "daybreak"
                    | "night"
                    | "noon"
                    | "midnight"
                    | "sunrise"
                    | "sunset"
                    | "sea"
                    | "close"
            )
        })
    {
        return Some(Outcome::Set(Rule::Avoided, "at".into()));
    }
    if matches!(kind, CueKind::Condition | CueKind::Hurt)
        && let Some(feel) = feeling_verb_before(s, i)
    {
        return Some(Outcome::Set(Rule::Idiom, feel));
    }
    if let Some(by) = curse_or_inverted_modal(s, i) {
        return Some(Outcome::Set(Rule::Hypothetical, by));
    }
    // "struck my ear", "struck her eyes": perception, not a blow.
    if matches!(w, "struck" | "strike" | "strikes" | "smote")
        && s.toks[i + 1..(i + 3).min(s.toks.len())].iter().any(|t| {
            matches!(
                t.w.as_str(),
                "ear" | "ears" | "eye" | "eyes" | "sight" | "fancy"
            )
        })
    {
        return Some(Outcome::Set(Rule::Idiom, "perception".into()));
    }
    // "cut short", "cut off" in the passive ("was cut off from the others").
    if matches!(w, "cut" | "cuts") && word(s, i + 1) == Some("short") {
        return Some(Outcome::Set(Rule::Idiom, "short".into()));
    }
    let passive = is_passive(s, i);
    if passive
        && matches!(w, "cut")
        && word(s, i + 1).is_some_and(|n| matches!(n, "off" | "out" | "up"))
    {
        return Some(Outcome::Set(
            Rule::Idiom,
            word(s, i + 1).unwrap_or_default().into(),
        ));
    }
    // "We are beaten": defeat, unless by or with something, or to death.
    if passive
        && matches!(w, "beat" | "beaten")
        && !word(s, i + 1).is_some_and(|n| matches!(n, "by" | "with" | "to"))
    {
        return Some(with_modality(s, i, Outcome::Set(Rule::Ambiguous, w.into())));
    }
    // "it struck me", "it struck her that": a thought, not a blow.
    if !passive && matches!(w, "struck" | "strike" | "strikes") {
        let subject = s.toks[..i]
            .iter()
            .rev()
            .find(|t| {
                !(is_adverb(&t.w)
                    || matches!(
                        t.w.as_str(),
                        "often"
                            | "always"
                            | "sometimes"
                            | "never"
                            | "once"
                            | "now"
                            | "first"
                            | "then"
                            | "at"
                    ))
            })
            .map(|t| t.w.as_str());
        if matches!(subject, Some("it" | "this" | "what" | "which" | "that")) {
            return Some(Outcome::Set(Rule::Idiom, "it struck".into()));
        }
    }
    if passive && matches!(w, "struck" | "stricken" | "smitten") && word(s, i + 1) == Some("with") {
        match right_victim(s, i + 1).0 {
            Victim::Thing(_) => {}
            _ => return Some(Outcome::Set(Rule::Idiom, "struck with".into())),
        }
    }
    let (victim, vidx) = match kind {
        CueKind::Noun => noun_victim(s, i),
        CueKind::Condition => {
            let (v, k) = right_victim(s, i);
            match v {
                Victim::Being(_) | Victim::Part(_) | Victim::Thing(_) | Victim::Abstract(_)
                    if k == Some(i + 1) || adjacent_noun(s, i, k) =>
                {
                    (v, k)
                }
                _ => match left_subject(s, i) {
                    // "he sank beneath the waves, choking": a participle after a comma
                    // describes the sentence's subject, not the nearest noun.
                    // "found the next day, frozen and lifeless": nor a time.
                    (Victim::Thing(_) | Victim::Abstract(_), Some(k))
                        if s.toks[k..i].iter().any(|t| t.is(","))
                            && let Some(b) = being_in_sentence(s, i) =>
                    {
                        (Victim::Being(b), None)
                    }
                    other => other,
                },
            }
        }
        _ if passive => left_subject(s, i),
        _ => {
            let (v, k) = right_victim(s, i);
            let before = i.checked_sub(1).map(|p| &s.toks[p]);
            if v == Victim::Unknown
                && k.is_none()
                && is_participle(w)
                && s.toks
                    .get(i + 1)
                    .is_none_or(|n| n.punct || is_in(List::Prepositions, &n.w) || is_adverb(&n.w))
                && let Some(b) = before.filter(|t| {
                    matches!(
                        t.w.as_str(),
                        "him" | "her" | "them" | "me" | "us" | "himself" | "herself" | "themselves"
                    )
                })
            {
                // "found him murdered", "left them wounded".
                (Victim::Being(b.w.clone()), Some(i - 1))
            } else if is_in(List::SubjectVictimVerbs, w) && v == Victim::Unknown && k.is_none() {
                left_subject(s, i)
            } else if is_in(List::SubjectVictimVerbs, w)
                && matches!(&v, Victim::Abstract(a) if is_time(a))
                && let (b @ Victim::Being(_), kb) = left_subject(s, i)
            {
                // "she expired an hour later": a time is when, not who.
                (b, kb)
            } else if v == Victim::Unknown
                && k.is_none()
                && !after_det
                && matches!(
                    w,
                    "snapped"
                        | "snap"
                        | "snaps"
                        | "cracked"
                        | "crack"
                        | "cracks"
                        | "broke"
                        | "fractured"
                        | "shattered"
                )
            {
                // "he heard the bone crack", "his leg snapped": a body part that breaks (not
                // `its arm`, a thing's as often as an animal's).
                match left_subject(s, i) {
                    (p @ Victim::Part(_), Some(k)) if k == 0 || s.toks[k - 1].w != "its" => {
                        (p, Some(k))
                    }
                    _ => (v, k),
                }
            } else if v == Victim::Unknown && matches!(w, "struck" | "hit") {
                // "My head struck on a piece of iron": a body part that hits something.
                match left_subject(s, i) {
                    (p @ Victim::Part(_), k) => (p, k),
                    _ => (v, k),
                }
            } else {
                (v, k)
            }
        }
    };
    // Idioms tied to the verb.
    if let Some(k) = vidx
        && !passive
        && matches!(kind, CueKind::Violent | CueKind::Hurt | CueKind::BodyPart)
        && let Some(after) = word(s, k + 1)
    {
        let idiom = match w {
            "struck" | "strike" | "strikes" | "stricken" | "smote" | "smite" | "smitten" => {
                matches!(
                    after,
                    "as" | "that"
                        | "how"
                        | "forcibly"
                        | "dumb"
                        | "silent"
                        | "speechless"
                        | "motionless"
                )
            }
            "cut" | "cuts" => matches!(after, "short" | "off" | "dead" | "out" | "up"),
            "beat" | "beaten" => matches!(after, "at" | "hollow"),
            "hit" | "hits" => matches!(after, "off" | "upon"),
            _ => false,
        };
        if idiom && is_in(List::IdiomAfterObject, after) {
            return Some(Outcome::Set(Rule::Idiom, after.into()));
        }
    }
    if passive
        && matches!(
            kind,
            CueKind::Violent | CueKind::Hurt | CueKind::BodyPart | CueKind::Lethal
        )
        && let Some(a) = abstract_agent(s, i)
    {
        return Some(Outcome::Set(Rule::Idiom, a));
    }
    if passive
        && matches!(w, "struck" | "stricken" | "smitten")
        && word(s, i + 1)
            .is_some_and(|n| matches!(n, "dumb" | "silent" | "speechless" | "motionless" | "blind"))
    {
        return Some(Outcome::Set(
            Rule::Idiom,
            word(s, i + 1).unwrap_or_default().into(),
        ));
    }
    if !passive && matches!(kind, CueKind::Violent | CueKind::Lethal | CueKind::BodyPart) {
        let (subj, _) = left_subject(s, i);
        if let Victim::Abstract(a) = subj {
            return Some(Outcome::Set(Rule::Idiom, a));
        }
    }
    // "sank beneath the dark water and drowned": the water is where, not who; "those who had
    // not reached the water were struck down and killed": a thing is not killed.
    let victim = match victim {
        Victim::Thing(_)
            if kind == CueKind::Lethal
                && (passive || is_in(List::SubjectVictimVerbs, w))
                && let Some(b) = being_in_sentence(s, i) =>
        {
            Victim::Being(b)
        }
        v => v,
    };
    // "cut him to ribbons with a dozen quiet questions": words, looks and jests do not wound.
    let transitive_condition = kind == CueKind::Condition
        && vidx.is_some_and(|k| k > i)
        && !prev.is_some_and(|p| is_in(List::NounDeterminers, p));
    if matches!(victim, Victim::Being(_) | Victim::Part(_))
        && (matches!(kind, CueKind::Violent | CueKind::BodyPart | CueKind::Lethal)
            || transitive_condition)
        && let Some(by) = figurative_instrument(s, vidx.map_or(i, |k| k.max(i)))
    {
        return Some(Outcome::Set(Rule::Idiom, by));
    }
    // Victim class.
    let victim_name = match &victim {
        Victim::Thing(t) => return Some(Outcome::Set(Rule::Object, t.clone())),
        Victim::Abstract(a) => return Some(Outcome::Set(Rule::Idiom, a.clone())),
        Victim::Negative(n) => return Some(Outcome::Set(Rule::Negated, n.clone())),
        Victim::Part(p)
            if vidx.is_some_and(|k| material_before(s, k))
                || effigy(s)
                || !p.contains(' ')
                    && [Some(i), vidx]
                        .into_iter()
                        .flatten()
                        .any(|a| to_fragments(s, a)) =>
        {
            return Some(Outcome::Set(Rule::Object, p.clone()));
        }
        Victim::Part(p) => {
            let gesture = (matches!(w, "bit" | "bite" | "bitten" | "cut")
                && lexicon::words(List::GestureParts)
                    .iter()
                    .any(|g| p.ends_with(g)))
                || (matches!(w, "snapped" | "cracked")
                    && (p.ends_with("fingers") || p.ends_with("knuckles")));
            if gesture {
                return Some(Outcome::Set(Rule::Idiom, p.clone()));
            }
            p.clone()
        }
        Victim::Being(b) => {
            if kind == CueKind::BodyPart {
                // "tore him to pieces": after the verb or after its object.
                let to_pieces = [Some(i), vidx].into_iter().flatten().any(|a| {
                    word(s, a + 1) == Some("to")
                        && word(s, a + 2)
                            .is_some_and(|n| matches!(n, "pieces" | "shreds" | "death"))
                        || word(s, a + 1) == Some("apart")
                        || word(s, a + 1) == Some("limb")
                });
                // "torn by the wolves": broken by a being is an injury.
                let by_being = passive
                    && word(s, i + 1) == Some("by")
                    && patterns::being_at(s, i + 2).is_some();
                if !to_pieces && !by_being {
                    return Some(Outcome::Set(Rule::Idiom, b.clone()));
                }
            }
            b.clone()
        }
        // Being killed, dying and conditions are about beings (the agent of an active killing verb
        // is not its victim): when the grammar finds no victim
        // ("three of the labourers were killed outright", "lay poisoned in the tent"), a
        // being elsewhere in the sentence is one. A breaking verb needs a body part
        // ("landed on his wrist, which was broken").
        Victim::Unknown
            if (kind == CueKind::Condition
                || kind == CueKind::Lethal
                    && (passive
                        || is_in(List::SubjectVictimVerbs, w) && vidx.is_none_or(|k| k <= i)))
                && !thing_pronoun_subject(s, i, kind, vidx)
                && let Some(b) = being_in_sentence(s, i) =>
        {
            b
        }
        // The same for a participle after the part: "his legs badly burned".
        Victim::Unknown
            if matches!(kind, CueKind::BodyPart | CueKind::Violent)
                && is_participle(w)
                && !matches!(left_subject(s, i).0, Victim::Thing(_))
                && let Some(p) = part_in_sentence(s, i) =>
        {
            if effigy(s) {
                return Some(Outcome::Set(Rule::Object, p));
            }
            p
        }
        Victim::Unknown => match kind {
            // "injury" often means a wrong done to someone; a wound is a wound; a death
            // without an owner is no one's ("the fear of death").
            CueKind::Noun if matches!(w, "death" | "deaths") => return None,
            CueKind::Noun if !matches!(w, "injury" | "injuries") => "someone".to_string(),
            CueKind::Noun | CueKind::Condition => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "victim unclear".into()),
                ));
            }
            CueKind::Lethal => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "victim unclear".into()),
                ));
            }
            CueKind::Hurt => {
                return Some(with_modality(
                    s,
                    i,
                    Outcome::Set(Rule::Ambiguous, "hurt".into()),
                ));
            }
            _ => return None,
        },
    };
    if let Some(v) = vidx
        && let Some(n) = negated_noun(s, v)
            .or_else(|| (word(s, v + 1) == Some("not")).then(|| "not".to_string()))
    {
        return Some(Outcome::Set(Rule::Negated, n));
    }
    if kind == CueKind::Hurt && !matches!(victim, Victim::Part(_)) && !hurt_is_physical(s, i) {
        return Some(with_modality(
            s,
            i,
            Outcome::Set(Rule::Ambiguous, "hurt".into()),
        ));
    }
    let state = (matches!(kind, CueKind::Noun | CueKind::Condition) || attributive(s, i))
        && !marked_new(s, i);
    Some(with_modality(
        s,
        i,
        Outcome::Injury {
            victim: victim_name,
            state,
        },
    ))
}

/// "until it was scarred": a condition word (other than dying, bleeding, drowning) whose
/// subject is `it`, `which`, `this` or `what` right before its verb group is a thing's
/// condition; no being elsewhere in the sentence is its victim.
pub(super) fn thing_pronoun_subject(
    s: &Sentence,
    i: usize,
    kind: CueKind,
    vidx: Option<usize>,
) -> bool {
    let w = s.toks[i].w.as_str();
    kind == CueKind::Condition
        && !is_in(List::SubjectVictimVerbs, w)
        && vidx.is_some_and(|k| {
            matches!(s.toks[k].w.as_str(), "it" | "which" | "this" | "what")
                && s.toks[k + 1..i]
                    .iter()
                    .all(|t| is_in(List::VerbFillers, &t.w) || is_adverb(&t.w))
        })
}

/// Whether the cue is a past participle: an `-ed` or `-en` form or a listed one (`struck`).
pub(super) fn is_participle(w: &str) -> bool {
    w.ends_with("ed") || w.ends_with("en") || is_in(List::Participles, w)
}

/// A participle between a determiner and a body part describes a state, not an event: `the
/// broken arm`, `his burnt hand`.
pub(super) fn attributive(s: &Sentence, i: usize) -> bool {
    let w = s.toks[i].w.as_str();
    is_participle(w)
        && i > 0
        && (is_in(List::Possessives, &s.toks[i - 1].w)
            || matches!(s.toks[i - 1].w.as_str(), "the" | "a" | "its")
            || s.toks[i - 1].poss)
        && word(s, i + 1).is_some_and(|n| is_in(List::BodyParts, n))
}

/// Whether the victim found to the right is the noun right after an adjective-like cue
/// (`wounded man`, `wounded old man`).
pub(super) fn adjacent_noun(s: &Sentence, i: usize, k: Option<usize>) -> bool {
    let Some(k) = k else { return false };
    s.toks[i + 1..k].iter().all(|t| {
        !t.punct
            && (is_in(List::Skippable, &t.w)
                || is_in(List::Possessives, &t.w)
                || t.poss
                || is_adverb(&t.w))
    })
}

pub(super) fn hurt_is_physical(s: &Sentence, i: usize) -> bool {
    let before = i.saturating_sub(3);
    if s.toks[before..i]
        .iter()
        .any(|t| is_in(List::PhysicalQualifiers, &t.w))
    {
        return true;
    }
    let after: Vec<&str> = s.toks[i + 1..(i + 6).min(s.toks.len())]
        .iter()
        .take_while(|t| !t.punct)
        .map(|t| t.w.as_str())
        .collect();
    after.iter().any(|w| {
        is_in(List::BodyParts, w)
            || matches!(
                *w,
                "fall"
                    | "blow"
                    | "blows"
                    | "stone"
                    | "explosion"
                    | "shot"
                    | "bullet"
                    | "accident"
                    | "kick"
            )
    })
}

pub(super) fn eval_blood(s: &Sentence, i: usize) -> Outcome {
    let w = s.toks[i].w.as_str();
    let prev = if i > 0 { word(s, i - 1) } else { None };
    let next: Vec<&str> = s.toks[i + 1..]
        .iter()
        .take_while(|t| !t.punct)
        .map(|t| t.w.as_str())
        .filter(|w| {
            !(is_adverb(w) || matches!(*w, "again" | "still" | "then" | "almost" | "quite"))
        })
        .take(3)
        .collect();
    if w == "blood" {
        if let Some(p) = prev.filter(|p| is_in(List::BloodIdiomsBefore, p)) {
            return Outcome::Set(Rule::Idiom, format!("{p} blood"));
        }
        for idiom in lexicon::blood_idioms_after() {
            if next.len() >= idiom.len() && next[..idiom.len()] == **idiom {
                return Outcome::Set(Rule::Idiom, format!("blood {}", idiom.join(" ")));
            }
        }
    }
    if w != "blood" {
        // "bloody nose" is an injury; "bloody battle" or "bloodstained coat" is only seen.
        let (v, _) = right_victim(s, i);
        if let Victim::Part(p) = v {
            return with_modality(
                s,
                i,
                Outcome::Injury {
                    victim: p,
                    state: !marked_new(s, i),
                },
            );
        }
        return with_modality(s, i, Outcome::Set(Rule::Ambiguous, w.into()));
    }
    let owner = if let Some(p) = prev.filter(|p| is_in(List::Possessives, p)) {
        Some(p.to_string())
    } else if i > 0 && s.toks[i - 1].poss {
        match classify(&s.toks[i - 1]) {
            Some(Victim::Thing(_)) => None,
            _ => Some(s.toks[i - 1].w.clone()),
        }
    } else if word(s, i + 1) == Some("of") {
        match right_victim(s, i + 1).0 {
            Victim::Being(b) => Some(b),
            _ => None,
        }
    } else {
        None
    };
    let flows = next.iter().any(|n| is_in(List::BloodFlow, n))
        || prev.is_some_and(|p| {
            matches!(
                p,
                "spat"
                    | "coughed"
                    | "vomited"
                    | "spitting"
                    | "coughing"
                    | "drew"
                    | "shed"
                    | "lost"
                    | "losing"
            )
        });
    if flows {
        let victim = owner.unwrap_or_else(|| "someone".into());
        return with_modality(
            s,
            i,
            Outcome::Injury {
                victim,
                state: !marked_new(s, i),
            },
        );
    }
    with_modality(s, i, Outcome::Set(Rule::Ambiguous, "blood".into()))
}
