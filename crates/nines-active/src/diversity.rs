//! Batch diversity: greedy k-center cells of the embeddings, used as sampling strata.
//!
//! Greedy k-center (farthest-point traversal) picks a first center, then repeatedly the point
//! farthest from every center so far; it is within a factor 2 of the best k-center cover.
//! Taken alone it is deterministic and would leave nothing to reweight by, so Nines uses its
//! *cells* (each point's nearest center) as strata: the diverse design draws at least one
//! pair from every cell, with known probability inside the cell. The cells depend only on
//! the pool, never on the draw, so the probabilities are exact.

use crate::error::{ActiveError, Result};

/// Squared Euclidean distance.
fn dist2(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = f64::from(*x) - f64::from(*y);
            d * d
        })
        .sum()
}

/// The result of [`k_center`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cells {
    /// Positions of the centers, in the order they were chosen.
    pub centers: Vec<usize>,
    /// For each point, the index (into `centers`) of its nearest center.
    pub cell: Vec<usize>,
    /// Largest distance of a point to its nearest center (the cover radius).
    pub radius: f64,
}

impl Cells {
    /// Positions of the points of each cell, cell by cell.
    pub fn members(&self) -> Vec<Vec<usize>> {
        let mut m = vec![Vec::new(); self.centers.len()];
        for (i, &c) in self.cell.iter().enumerate() {
            m[c].push(i);
        }
        m
    }
}

/// Greedy k-center over `points` starting from position `first`; `k` is capped at the
/// number of distinct points (further centers would be duplicates at distance 0).
pub fn k_center(points: &[&[f32]], k: usize, first: usize) -> Result<Cells> {
    if points.is_empty() {
        return Err(ActiveError::EmptyPool);
    }
    if k == 0 {
        return Err(ActiveError::config("clusters", "must be positive"));
    }
    if first >= points.len() {
        return Err(ActiveError::config(
            "first",
            format!("{first} is not a position of the {} points", points.len()),
        ));
    }
    let mut centers = vec![first];
    let mut near: Vec<f64> = points.iter().map(|p| dist2(p, points[first])).collect();
    let mut cell = vec![0usize; points.len()];
    while centers.len() < k.min(points.len()) {
        let (far, &d) = near
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .unwrap_or((0, &0.0));
        if d <= 0.0 {
            break;
        }
        let c = centers.len();
        centers.push(far);
        for (i, p) in points.iter().enumerate() {
            let d = dist2(p, points[far]);
            if d < near[i] {
                near[i] = d;
                cell[i] = c;
            }
        }
    }
    let radius = near.iter().cloned().fold(0.0, f64::max).sqrt();
    Ok(Cells {
        centers,
        cell,
        radius,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_three_clumps() {
        let pts: Vec<Vec<f32>> = [0.0f32, 0.1, 0.2, 10.0, 10.1, 20.0, 20.2, 20.1]
            .iter()
            .map(|&x| vec![x, 0.0])
            .collect();
        let refs: Vec<&[f32]> = pts.iter().map(Vec::as_slice).collect();
        let c = k_center(&refs, 3, 0).unwrap();
        assert_eq!(c.centers.len(), 3);
        let m = c.members();
        let mut sizes: Vec<usize> = m.iter().map(Vec::len).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 3, 3]);
        assert!(c.radius < 0.25, "{}", c.radius);
        // Duplicates cap k.
        let same = [[1.0f32].as_slice(); 4];
        assert_eq!(k_center(&same, 3, 0).unwrap().centers.len(), 1);
    }
}
