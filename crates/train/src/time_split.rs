//! Time-based train/test and fit/validation splits.
//!
//! Alerts drift: evaluating on a random split leaks the future into training. These helpers split
//! by timestamp only:
//! - [`split_at`]: rows before a cutoff train, rows at or after it test;
//! - [`split_newest_fraction`]: the newest fraction of rows by time is the test set;
//! - [`split_validation`]: the newest fraction of the training rows becomes the validation set
//!   (early stopping, calibration, thresholds), the rest is fitted on.
//!
//! Rows without a timestamp are returned in `untimed`, never placed on either side. Output index
//! lists are in time order (ties by index); nothing is shuffled. Rows sharing a timestamp are
//! never split across the cutoff, so a side can be larger than the fraction asked for.

use crate::TrainError;

/// Row indices split by time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimeSplit {
    /// Rows with `time < cutoff_secs`, oldest first.
    pub train: Vec<usize>,
    /// Rows with `time >= cutoff_secs`, oldest first.
    pub test: Vec<usize>,
    /// Rows without a timestamp, in index order.
    pub untimed: Vec<usize>,
    /// The cutoff, unix seconds.
    pub cutoff_secs: i64,
}

/// Training rows split into a fitting part and a newer validation part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationSplit {
    /// Rows to fit on (`time < cutoff_secs`), oldest first.
    pub fit: Vec<usize>,
    /// Validation rows (`time >= cutoff_secs`), oldest first.
    pub valid: Vec<usize>,
    /// Given rows without a timestamp, in the order given.
    pub untimed: Vec<usize>,
    /// The cutoff, unix seconds.
    pub cutoff_secs: i64,
}

/// Splits all rows at `cutoff_secs`: `time < cutoff` trains, `time >= cutoff` tests. Either side
/// may be empty; the caller decides whether that is an error.
pub fn split_at(timestamps: &[Option<i64>], cutoff_secs: i64) -> TimeSplit {
    let (timed, untimed) = sort_timed(timestamps, 0..timestamps.len());
    let k = timed.partition_point(|&(t, _)| t < cutoff_secs);
    TimeSplit {
        train: timed[..k].iter().map(|&(_, i)| i).collect(),
        test: timed[k..].iter().map(|&(_, i)| i).collect(),
        untimed,
        cutoff_secs,
    }
}

/// The newest `test_fraction` (in (0, 1)) of the timed rows is the test set. The cutoff is the
/// timestamp of the oldest row in that newest slice; rows sharing it go to test as well.
///
/// Errors: `test_fraction` outside (0, 1); fewer than two timed rows; a side left empty because
/// all rows share one timestamp.
pub fn split_newest_fraction(
    timestamps: &[Option<i64>],
    test_fraction: f64,
) -> Result<TimeSplit, TrainError> {
    let (timed, untimed) = sort_timed(timestamps, 0..timestamps.len());
    let (k, cutoff_secs) = newest_cut(&timed, test_fraction, "test_fraction", ("train", "test"))?;
    Ok(TimeSplit {
        train: timed[..k].iter().map(|&(_, i)| i).collect(),
        test: timed[k..].iter().map(|&(_, i)| i).collect(),
        untimed,
        cutoff_secs,
    })
}

/// The newest `valid_fraction` (in (0, 1)) of the rows `train` (indices into `timestamps`, e.g.
/// [`TimeSplit::train`]) is the validation set; the older rest is fitted on.
///
/// Errors: an index out of range, `valid_fraction` outside (0, 1), fewer than two timed rows, or
/// an empty side.
pub fn split_validation(
    timestamps: &[Option<i64>],
    train: &[usize],
    valid_fraction: f64,
) -> Result<ValidationSplit, TrainError> {
    if let Some(&index) = train.iter().find(|&&i| i >= timestamps.len()) {
        return Err(TrainError::IndexOutOfRange {
            index,
            len: timestamps.len(),
        });
    }
    let (timed, untimed) = sort_timed(timestamps, train.iter().copied());
    let (k, cutoff_secs) = newest_cut(&timed, valid_fraction, "valid_fraction", ("fit", "valid"))?;
    Ok(ValidationSplit {
        fit: timed[..k].iter().map(|&(_, i)| i).collect(),
        valid: timed[k..].iter().map(|&(_, i)| i).collect(),
        untimed,
        cutoff_secs,
    })
}

/// `(time, index)` of the timed rows among `rows`, sorted; and the untimed rows.
fn sort_timed(
    timestamps: &[Option<i64>],
    rows: impl Iterator<Item = usize>,
) -> (Vec<(i64, usize)>, Vec<usize>) {
    let mut timed = Vec::new();
    let mut untimed = Vec::new();
    for i in rows {
        match timestamps.get(i).copied().flatten() {
            Some(t) => timed.push((t, i)),
            None => untimed.push(i),
        }
    }
    timed.sort_unstable();
    (timed, untimed)
}

/// Index of the first newer-side row in `timed` and the cutoff, for the newest `fraction`.
fn newest_cut(
    timed: &[(i64, usize)],
    fraction: f64,
    name: &'static str,
    sides: (&'static str, &'static str),
) -> Result<(usize, i64), TrainError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(TrainError::InvalidParam {
            name,
            reason: format!("{fraction} is not within (0, 1)"),
        });
    }
    let n = timed.len();
    if n < 2 {
        return Err(TrainError::EmptySplit {
            side: if n == 0 { sides.0 } else { sides.1 },
            timed: n,
        });
    }
    let n_new = ((fraction * n as f64).round() as usize).clamp(1, n - 1);
    let cutoff = timed[n - n_new].0;
    // Whole timestamps stay on one side: everything at the cutoff is newer.
    let k = timed.partition_point(|&(t, _)| t < cutoff);
    if k == 0 {
        return Err(TrainError::EmptySplit {
            side: sides.0,
            timed: n,
        });
    }
    Ok((k, cutoff))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoff_split_keeps_time_order_and_untimed_apart() {
        let ts = [Some(30), None, Some(10), Some(20), Some(20), None, Some(40)];
        let s = split_at(&ts, 20);
        assert_eq!(s.train, vec![2]);
        assert_eq!(s.test, vec![3, 4, 0, 6]);
        assert_eq!(s.untimed, vec![1, 5]);
        assert_eq!(s.cutoff_secs, 20);
        let all_train = split_at(&ts, 100);
        assert_eq!(all_train.test, Vec::<usize>::new());
        assert_eq!(all_train.train, vec![2, 3, 4, 0, 6]);
    }

    #[test]
    fn newest_fraction_takes_the_newest_and_keeps_ties_together() {
        // Times 1..=10 at indices 9..=0 (newest first in the input).
        let ts: Vec<Option<i64>> = (0..10).map(|i| Some(10 - i)).collect();
        let s = split_newest_fraction(&ts, 0.3).expect("splits");
        assert_eq!(s.test, vec![2, 1, 0]);
        assert_eq!(s.train, vec![9, 8, 7, 6, 5, 4, 3]);
        assert_eq!(s.cutoff_secs, 8);
        // A tie at the cutoff goes to test in full: times 1 2 3 3 3, newest 20% = 1 row.
        let ts = [Some(1), Some(2), Some(3), Some(3), Some(3)];
        let s = split_newest_fraction(&ts, 0.2).expect("splits");
        assert_eq!(s.test, vec![2, 3, 4]);
        assert_eq!(s.train, vec![0, 1]);
        // All one timestamp: no train side.
        assert_eq!(
            split_newest_fraction(&[Some(5), Some(5), Some(5)], 0.5),
            Err(TrainError::EmptySplit {
                side: "train",
                timed: 3
            })
        );
        assert!(matches!(
            split_newest_fraction(&ts, 1.0),
            Err(TrainError::InvalidParam { .. })
        ));
        assert!(matches!(
            split_newest_fraction(&[None, Some(1)], 0.5),
            Err(TrainError::EmptySplit { timed: 1, .. })
        ));
    }

    #[test]
    fn validation_is_the_newest_slice_of_train() {
        let ts = [Some(5), Some(1), Some(4), None, Some(2), Some(3), Some(9)];
        let s = split_at(&ts, 9);
        assert_eq!(s.train, vec![1, 4, 5, 2, 0]);
        let v = split_validation(&ts, &s.train, 0.4).expect("splits");
        assert_eq!(v.fit, vec![1, 4, 5]);
        assert_eq!(v.valid, vec![2, 0]);
        assert_eq!(v.cutoff_secs, 4);
        // Untimed rows handed in come back apart.
        let v = split_validation(&ts, &[3, 1, 4], 0.5).expect("splits");
        assert_eq!((v.fit, v.valid, v.untimed), (vec![1], vec![4], vec![3]));
        assert_eq!(
            split_validation(&ts, &[99], 0.5),
            Err(TrainError::IndexOutOfRange { index: 99, len: 7 })
        );
    }
}
