//! Word tokens for the oracle's rules.
//!
//! Text is cut into sentences ([`crate::segment::split_sentences`]), then into lower-cased
//! word tokens and punctuation tokens. Contractions are expanded (`didn't` → `did not`,
//! `won't` → `will not`, `'ll` → `will`, `'d` → `would`); a possessive `'s` is kept as a flag
//! on its noun (`robot's` → `robot` + possessive). Curly apostrophes count as `'`.

use super::lexicon::{List, is_in};

/// A token of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    /// Lower-cased word, or the punctuation character as a string.
    pub w: String,
    /// The word started with an uppercase letter.
    pub cap: bool,
    /// First word of its sentence.
    pub first: bool,
    /// Punctuation (`.`, `,`, `;`, `:`, `!`, `?`, `-` for a dash, `(`, `)`).
    pub punct: bool,
    /// The word carried a possessive `'s` (or a plural possessive `s'`).
    pub poss: bool,
}

impl Tok {
    fn word(w: &str, cap: bool, poss: bool) -> Tok {
        Tok {
            w: w.to_string(),
            cap,
            first: false,
            punct: false,
            poss,
        }
    }

    fn punct(c: char) -> Tok {
        Tok {
            w: c.to_string(),
            cap: false,
            first: false,
            punct: true,
            poss: false,
        }
    }

    /// Whether this is the punctuation `c`.
    pub fn is(&self, c: &str) -> bool {
        self.w == c
    }
}

/// One sentence's tokens, and whether it is a question.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// Tokens in order.
    pub toks: Vec<Tok>,
    /// The sentence ends with `?` (before closing quotes).
    pub question: bool,
}

/// Tokenizes `text` into sentences.
pub fn sentences(text: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    for para in crate::segment::paragraphs(text) {
        let p = &text[para];
        for r in crate::segment::split_sentences(p) {
            let s = &p[r];
            let question = s
                .trim_end_matches(|c: char| {
                    matches!(c, '"' | '\'' | '\u{201D}' | '\u{2019}' | ')' | '_' | '*')
                })
                .ends_with('?');
            out.push(Sentence {
                toks: tokenize(s),
                question,
            });
        }
    }
    out
}

/// Tokenizes one sentence.
pub fn tokenize(s: &str) -> Vec<Tok> {
    let s = s.replace(['\u{2019}', '\u{2018}'], "'");
    let mut toks: Vec<Tok> = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() {
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_alphanumeric()
                    || ((chars[j] == '\'' || chars[j] == '-')
                        && j + 1 < chars.len()
                        && chars[j + 1].is_alphanumeric()))
            {
                j += 1;
            }
            let raw: String = chars[i..j].iter().collect();
            // A plural possessive: "sailors' ".
            let plural_poss = j < chars.len()
                && chars[j] == '\''
                && raw.ends_with('s')
                && (j + 1 == chars.len() || !chars[j + 1].is_alphanumeric());
            push_word(&mut toks, &raw, plural_poss);
            i = if plural_poss { j + 1 } else { j };
        } else if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '(' | ')') {
            // The dot of a title or an initial ("Mr. Pip", "H. G. Wells") is not punctuation.
            let after_title = c == '.'
                && toks.last().is_some_and(|t| {
                    !t.punct
                        && (is_in(List::Titles, t.w.as_str())
                            || (t.cap && t.w.chars().count() == 1 && t.w != "i"))
                });
            if !after_title {
                toks.push(Tok::punct(c));
            }
            i += 1;
        } else if c == '\u{2014}' || c == '\u{2013}' || (c == '-' && chars.get(i + 1) == Some(&'-'))
        {
            toks.push(Tok::punct('-'));
            while i < chars.len() && matches!(chars[i], '-' | '\u{2014}' | '\u{2013}') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    // "no one" is one negative pronoun.
    let mut merged: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        if t.w == "one" && merged.last().is_some_and(|p: &Tok| p.w == "no") {
            if let Some(p) = merged.last_mut() {
                p.w = "noone".into();
            }
            continue;
        }
        merged.push(t);
    }
    if let Some(t) = merged.iter_mut().find(|t| !t.punct) {
        t.first = true;
    }
    merged
}

fn push_word(toks: &mut Vec<Tok>, raw: &str, plural_poss: bool) {
    let cap = raw.chars().next().is_some_and(char::is_uppercase);
    let lower = raw.to_lowercase();
    let expansions: &[(&str, &[&str])] = &[
        ("won't", &["will", "not"]),
        ("can't", &["can", "not"]),
        ("shan't", &["shall", "not"]),
        ("ain't", &["is", "not"]),
        ("cannot", &["can", "not"]),
    ];
    for (from, to) in expansions {
        if lower == *from {
            for (k, w) in to.iter().enumerate() {
                toks.push(Tok::word(w, cap && k == 0, false));
            }
            return;
        }
    }
    if let Some(stem) = lower.strip_suffix("n't") {
        toks.push(Tok::word(stem, cap, false));
        toks.push(Tok::word("not", false, false));
        return;
    }
    for (suffix, full) in [
        ("'ll", "will"),
        ("'d", "would"),
        ("'ve", "have"),
        ("'re", "are"),
        ("'m", "am"),
    ] {
        if let Some(stem) = lower.strip_suffix(suffix) {
            toks.push(Tok::word(stem, cap, false));
            toks.push(Tok::word(full, false, false));
            return;
        }
    }
    if let Some(stem) = lower.strip_suffix("'s") {
        // "he's", "it's", "that's" are contractions of "is"/"has", not possessives.
        if matches!(
            stem,
            "he" | "she" | "it" | "that" | "there" | "here" | "what" | "who" | "where" | "let"
        ) {
            toks.push(Tok::word(stem, cap, false));
            toks.push(Tok::word(
                if stem == "let" { "us" } else { "is" },
                false,
                false,
            ));
        } else {
            toks.push(Tok::word(stem, cap, true));
        }
        return;
    }
    let w = lower.trim_matches('\'');
    toks.push(Tok::word(w, cap, plural_poss));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        tokenize(s).into_iter().map(|t| t.w).collect()
    }

    #[test]
    fn contractions_and_possessives() {
        assert_eq!(
            words("He didn't stab her."),
            ["he", "did", "not", "stab", "her", "."]
        );
        assert_eq!(words("I'll kill you"), ["i", "will", "kill", "you"]);
        let t = tokenize("The robot's arm--snapped");
        assert_eq!(t[1].w, "robot");
        assert!(t[1].poss);
        assert!(t[3].punct && t[3].w == "-");
        let t = tokenize("the sailors' wounds");
        assert!(t[1].poss && t[1].w == "sailors");
    }

    #[test]
    fn questions_are_flagged() {
        let s = sentences("Are you hurt?\" she asked. He is fine.");
        assert_eq!(s.len(), 2);
        assert!(!s[0].question, "the sentence ends with 'asked.'");
        let s = sentences("\"Are you hurt?\" He nodded.");
        assert!(s[0].question);
    }
}
