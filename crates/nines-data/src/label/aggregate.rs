//! Combining several labelers' verdicts, and how much they agree.
//!
//! - [`aggregate`] turns one snippet's labels into one verdict, by [`Rule::Majority`]
//!   (ties and all-`unsure` give `unsure`) or [`Rule::AnyInjury`] (one `injury` suffices:
//!   the cautious rule for a forbidden kind of text).
//! - [`cohen_kappa`] measures the agreement of two labelers beyond chance on the snippets
//!   both labeled; [`fleiss_kappa`] does the same for any fixed number of labelers per
//!   snippet. Both use the three categories `injury`, `no_injury`, `unsure`.
//! - [`agreement`] computes both from a set of snippets and labeler names.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::record::{Label, Snippet, Verdict};

/// How to combine verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The more frequent of `injury` and `no_injury`; a tie, or only `unsure`, is `unsure`.
    Majority,
    /// `injury` if any labeler says so; else `no_injury` if any says so; else `unsure`.
    AnyInjury,
}

/// The combined verdict of `labels` (`None` when there are none).
///
/// ```
/// use nines_data::label::aggregate::{aggregate, Rule};
/// use nines_data::record::{Label, Verdict};
/// let ls = [Verdict::Injury, Verdict::NoInjury, Verdict::NoInjury]
///     .map(|v| Label::now("x", v, ""));
/// assert_eq!(aggregate(&ls, Rule::Majority), Some(Verdict::NoInjury));
/// assert_eq!(aggregate(&ls, Rule::AnyInjury), Some(Verdict::Injury));
/// ```
pub fn aggregate(labels: &[Label], rule: Rule) -> Option<Verdict> {
    if labels.is_empty() {
        return None;
    }
    let yes = labels
        .iter()
        .filter(|l| l.verdict == Verdict::Injury)
        .count();
    let no = labels
        .iter()
        .filter(|l| l.verdict == Verdict::NoInjury)
        .count();
    Some(match rule {
        Rule::Majority if yes > no => Verdict::Injury,
        Rule::Majority if no > yes => Verdict::NoInjury,
        Rule::Majority => Verdict::Unsure,
        Rule::AnyInjury if yes > 0 => Verdict::Injury,
        Rule::AnyInjury if no > 0 => Verdict::NoInjury,
        Rule::AnyInjury => Verdict::Unsure,
    })
}

fn category(v: Verdict) -> usize {
    match v {
        Verdict::Injury => 0,
        Verdict::NoInjury => 1,
        Verdict::Unsure => 2,
    }
}

/// Cohen's kappa of two labelers' verdicts on the same items (`a[i]` and `b[i]` judge item i).
///
/// `κ = (p_o − p_e) / (1 − p_e)`. Errors when the lengths differ, there are no items, or
/// chance agreement is certain (`p_e = 1`: both gave one and the same category throughout),
/// where κ is undefined.
pub fn cohen_kappa(a: &[Verdict], b: &[Verdict]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(Error::Agreement {
            reason: format!(
                "{} and {} ratings: the two labelers must rate the same items",
                a.len(),
                b.len()
            ),
        });
    }
    if a.is_empty() {
        return Err(Error::Agreement {
            reason: "no items rated by both labelers".into(),
        });
    }
    let n = a.len() as f64;
    let mut pa = [0.0; 3];
    let mut pb = [0.0; 3];
    let mut agree = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        pa[category(x)] += 1.0 / n;
        pb[category(y)] += 1.0 / n;
        if x == y {
            agree += 1.0;
        }
    }
    let po = agree / n;
    let pe: f64 = pa.iter().zip(&pb).map(|(x, y)| x * y).sum();
    if (1.0 - pe).abs() < 1e-12 {
        return Err(Error::Agreement {
            reason: "chance agreement is 1 (a single category throughout): kappa is undefined"
                .into(),
        });
    }
    Ok((po - pe) / (1.0 - pe))
}

/// Fleiss' kappa: `items[i]` holds the verdicts of the `m ≥ 2` raters of item i (the same
/// `m` for every item; raters need not be the same people).
///
/// Errors on no items, fewer than 2 raters, unequal rater counts, or a single category
/// throughout.
pub fn fleiss_kappa(items: &[Vec<Verdict>]) -> Result<f64> {
    let Some(first) = items.first() else {
        return Err(Error::Agreement {
            reason: "no items".into(),
        });
    };
    let m = first.len();
    if m < 2 {
        return Err(Error::Agreement {
            reason: format!("{m} rater per item: Fleiss' kappa needs at least 2"),
        });
    }
    if let Some((i, item)) = items.iter().enumerate().find(|(_, it)| it.len() != m) {
        return Err(Error::Agreement {
            reason: format!(
                "item {i} has {} ratings, item 0 has {m}: every item needs the same number",
                item.len()
            ),
        });
    }
    let n = items.len() as f64;
    let mf = m as f64;
    let mut totals = [0.0; 3];
    let mut p_bar = 0.0;
    for item in items {
        let mut counts = [0.0; 3];
        for &v in item {
            counts[category(v)] += 1.0;
        }
        for k in 0..3 {
            totals[k] += counts[k];
        }
        let agree: f64 = counts.iter().map(|c| c * (c - 1.0)).sum();
        p_bar += agree / (mf * (mf - 1.0));
    }
    p_bar /= n;
    let pe: f64 = totals.iter().map(|t| (t / (n * mf)).powi(2)).sum();
    if (1.0 - pe).abs() < 1e-12 {
        return Err(Error::Agreement {
            reason: "all ratings in one category: kappa is undefined".into(),
        });
    }
    Ok((p_bar - pe) / (1.0 - pe))
}

/// Agreement statistics of named labelers over a set of snippets.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Cohen's kappa for each pair of labelers (with the number of shared items), when
    /// defined.
    pub pairwise: BTreeMap<(String, String), (usize, Option<f64>)>,
    /// Fleiss' kappa over the snippets labeled by all the labelers, when defined.
    pub fleiss: Option<f64>,
    /// Number of snippets labeled by all the labelers.
    pub common_items: usize,
    /// Share of those on which all labelers gave the same verdict.
    pub unanimous: f64,
}

/// Computes [`Agreement`] for `labelers` over `snippets`.
pub fn agreement<'a>(
    snippets: impl IntoIterator<Item = &'a Snippet>,
    labelers: &[&str],
) -> Agreement {
    let rows: Vec<Vec<Option<Verdict>>> = snippets
        .into_iter()
        .map(|s| {
            labelers
                .iter()
                .map(|l| s.label_by(l).map(|x| x.verdict))
                .collect()
        })
        .collect();
    let mut pairwise = BTreeMap::new();
    for i in 0..labelers.len() {
        for j in i + 1..labelers.len() {
            let (a, b): (Vec<_>, Vec<_>) = rows.iter().filter_map(|r| Some((r[i]?, r[j]?))).unzip();
            let k = cohen_kappa(&a, &b).ok();
            pairwise.insert(
                (labelers[i].to_string(), labelers[j].to_string()),
                (a.len(), k),
            );
        }
    }
    let common: Vec<Vec<Verdict>> = rows
        .iter()
        .filter_map(|r| r.iter().copied().collect::<Option<Vec<_>>>())
        .collect();
    let unanimous = if common.is_empty() {
        0.0
    } else {
        common
            .iter()
            .filter(|r| r.iter().all(|v| *v == r[0]))
            .count() as f64
            / common.len() as f64
    };
    Agreement {
        pairwise,
        fleiss: fleiss_kappa(&common).ok(),
        common_items: common.len(),
        unanimous,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Injury as I, NoInjury as N, Unsure as U};

    #[test]
    fn majority_and_any_injury() {
        let l = |vs: &[Verdict]| {
            vs.iter()
                .map(|&v| Label::now("x", v, ""))
                .collect::<Vec<_>>()
        };
        assert_eq!(aggregate(&l(&[I, N]), Rule::Majority), Some(U));
        assert_eq!(aggregate(&l(&[U, U]), Rule::Majority), Some(U));
        assert_eq!(aggregate(&l(&[I, I, N]), Rule::Majority), Some(I));
        assert_eq!(aggregate(&l(&[U, N]), Rule::AnyInjury), Some(N));
        assert_eq!(aggregate(&l(&[]), Rule::AnyInjury), None);
    }

    #[test]
    fn cohen_matches_a_hand_computation() {
        // 2x2 table: both I = 20, a I b N = 5, a N b I = 10, both N = 15 (n = 50).
        let mut a = vec![];
        let mut b = vec![];
        for (x, y, n) in [(I, I, 20), (I, N, 5), (N, I, 10), (N, N, 15)] {
            for _ in 0..n {
                a.push(x);
                b.push(y);
            }
        }
        // p_o = 0.7, p_e = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa = 0.4
        assert!((cohen_kappa(&a, &b).unwrap() - 0.4).abs() < 1e-12);
        assert!((cohen_kappa(&a, &a).unwrap() - 1.0).abs() < 1e-12);
        assert!(cohen_kappa(&[I, I], &[I, I]).is_err());
        assert!(cohen_kappa(&[I], &[I, N]).is_err());
    }

    #[test]
    fn fleiss_matches_the_textbook_example() {
        // Fleiss (1971) style check with 3 categories and 3 raters:
        // items: [I,I,I], [N,N,N], [I,N,U], [I,I,N]
        let items = vec![vec![I, I, I], vec![N, N, N], vec![I, N, U], vec![I, I, N]];
        // P_i = 1, 1, 0, 1/3 -> P_bar = 7/12; totals I=6, N=5, U=1 of 12
        // P_e = (36 + 25 + 1) / 144 = 62/144; kappa = (7/12 - 62/144) / (1 - 62/144) = 22/82
        let k = fleiss_kappa(&items).unwrap();
        assert!((k - 22.0 / 82.0).abs() < 1e-12, "{k}");
        assert!(fleiss_kappa(&[vec![I, I], vec![I]]).is_err());
        assert!(fleiss_kappa(&[vec![I]]).is_err());
    }

    #[test]
    fn agreement_over_snippets() {
        let mut snippets = Vec::new();
        for (i, (a, b)) in [(I, I), (N, N), (I, N), (N, N)].into_iter().enumerate() {
            let mut s = Snippet::new(format!("p{i}"), "c", None, None, None);
            s.upsert_label(Label::now("a", a, ""));
            s.upsert_label(Label::now("b", b, ""));
            snippets.push(s);
        }
        let ag = agreement(&snippets, &["a", "b"]);
        assert_eq!(ag.common_items, 4);
        assert!((ag.unanimous - 0.75).abs() < 1e-12);
        let (n, k) = ag.pairwise[&("a".to_string(), "b".to_string())];
        assert_eq!(n, 4);
        assert!((k.unwrap() - 0.5).abs() < 1e-12);
        assert!(ag.fleiss.is_some());
    }
}
