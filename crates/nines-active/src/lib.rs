//! Active learning for Nines: choose which (prompt, completion) pairs people should label so
//! that each label finds as many classifier mistakes as possible, while every labeled pair
//! keeps a known inclusion probability for unbiased estimates afterwards. Pure Rust.
//!
//! Where it sits: the classifier (nines-classify) scores a cheap pool of unlabeled pairs; this
//! crate values each pair with an [`Acquisition`] strategy ([`acquisition`]), turns the values
//! into inclusion probabilities and draws a batch ([`design`], [`select()`]); people or the
//! oracle label it; the classifier is retrained and the pool re-scored ([`driver`]). Because
//! every pick records its probability `π`, nines-estimate's Horvitz–Thompson and importance
//! estimators reweight the labels to the whole pool, whatever the strategy favoured. Top-k
//! selection exists but marks its picks as not reweightable. Diversity comes from greedy
//! k-center cells used as strata ([`diversity`]), which keeps the probabilities exact.
//! [`study`] measures misses found per label against random sampling.
//!
//! ```
//! use nines_active::{Pool, PoolItem, SelectorConfig, select};
//! use nines_active::acquisition::{Boundary, Random};
//! // 1000 accepted pairs scored 0.1% and 10 scored 0.9%, threshold 1%.
//! let mut items: Vec<PoolItem> = (0..1000)
//!     .map(|i| PoolItem::new(format!("p{i}"), "c", 0.001))
//!     .collect();
//! items.extend((0..10).map(|i| PoolItem::new(format!("q{i}"), "c", 0.009)));
//! let pool = Pool::new(items).unwrap();
//! let cfg = SelectorConfig { budget: 20, ..Default::default() };
//! let batch = select(&pool, &Boundary::default(), 0.01, &cfg).unwrap();
//! assert_eq!(batch.picks.len(), 20);
//! // The 0.9% pairs are drawn about 9 times as often as the 0.1% ones...
//! assert!(batch.probabilities[1005] > 5.0 * batch.probabilities[0]);
//! // ...and every pick carries its probability, so reweighting stays unbiased.
//! assert!(batch.picks.iter().all(|p| p.selection().is_ok()));
//! let random = select(&pool, &Random, 0.01, &cfg).unwrap();
//! assert!((random.probabilities[0] - 20.0 / 1010.0).abs() < 1e-12);
//! ```
#![deny(missing_docs)]

pub mod acquisition;
pub mod budget_study;
pub mod config;
pub mod design;
pub mod diversity;
pub mod driver;
pub mod error;
pub mod pool;
pub mod select;
pub mod study;

pub use acquisition::Acquisition;
pub use config::{Design, SelectorConfig};
pub use error::{ActiveError, Result};
pub use pool::{Pool, PoolItem};
pub use select::{Batch, Pick, select};
