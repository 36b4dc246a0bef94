//! Partitioning math for distributed hypertables: which chunk a row belongs to and which data
//! nodes hold that chunk.
//!
//! A hypertable has one open (time) dimension, cut into aligned slices of a fixed interval, and
//! optionally one closed (space) dimension, a hash range cut into a fixed number of equal slices.
//! A chunk is one time slice crossed with one space slice. Everything works on the dimensions'
//! internal `i64` values and never panics: arithmetic that could overflow is done in `i128` or
//! clamped at the `i64` bounds, which double as "unbounded" markers.

use xxhash_rust::xxh3::xxh3_64;

/// Upper bound (exclusive) of space hash values: hashes are in [0, HASH_SPACE).
pub const HASH_SPACE: i64 = 1 << 31;

/// Most partitions a closed dimension may have; PostgreSQL stores the count in an `int2`.
const MAX_PARTITIONS: u16 = i16::MAX as u16;

/// A half-open range [start, end) of a dimension's internal values. i64::MIN as start / i64::MAX
/// as end mean unbounded on that side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Range {
    pub start: i64,
    pub end: i64,
}

impl Range {
    /// Callers must pass `start < end`; checked in debug builds only so release code never panics.
    pub fn new(start: i64, end: i64) -> Range {
        debug_assert!(start < end, "empty range [{start}, {end})");
        Range { start, end }
    }

    /// An end of `i64::MAX` means "unbounded above", so `i64::MAX` itself is inside such a range;
    /// otherwise the largest value could never be stored in any chunk.
    pub fn contains(&self, value: i64) -> bool {
        self.start <= value && i128::from(value) < self.upper()
    }

    /// True when some value lies in both ranges (by the same rule as [`Range::contains`]).
    pub fn overlaps(&self, other: &Range) -> bool {
        i128::from(self.start.max(other.start)) < self.upper().min(other.upper())
    }

    /// The exclusive end as a number, treating `i64::MAX` as unbounded (one past the largest value).
    fn upper(&self) -> i128 {
        i128::from(self.end) + i128::from(self.end == i64::MAX)
    }
}

/// Clamps a wide intermediate result back into `i64`, where the bounds mean "unbounded".
fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// The time slice holding `value`: [k*interval, (k+1)*interval) with k = floor(value / interval),
/// aligned to multiples of `interval` counted from 0 so that every node and every session computes
/// the same slice for the same value. Bounds that would overflow are clamped to i64::MIN / i64::MAX.
///
/// When `interval` divides `i64::MAX`, the slice aligned at `i64::MAX` would be empty after
/// clamping; since a slice ending at `i64::MAX` already holds `i64::MAX`, that value gets the
/// preceding slice instead. An `interval <= 0` (rejected by callers) yields the unbounded range.
pub fn time_slice(value: i64, interval: i64) -> Range {
    if interval <= 0 {
        return Range::new(i64::MIN, i64::MAX);
    }
    let start = i128::from(time_slice_ordinal(value, interval)) * i128::from(interval);
    let end = start + i128::from(interval);
    let (start, end) = (clamp_i64(start), clamp_i64(end));
    if start == i64::MAX {
        return Range::new(i64::MAX - interval, i64::MAX);
    }
    Range::new(start, end)
}

/// The ordinal k of the time slice holding `value` (floor(value / interval)); used to rotate
/// chunks over nodes when there is no space dimension. Returns 0 for `interval <= 0`.
pub fn time_slice_ordinal(value: i64, interval: i64) -> i64 {
    if interval <= 0 {
        return 0;
    }
    // With a positive divisor, Euclidean division is floor division and cannot overflow.
    value.div_euclid(interval)
}

/// Cuts the aligned `slice` (which contains `value`) so it overlaps none of `existing`: slices
/// made earlier, possibly with another interval, so chunks never overlap after the interval of a
/// hypertable changes. If an existing slice already contains `value`, that slice is returned
/// unchanged, as the row belongs to its chunk. A `slice` that does not contain `value` is ignored
/// (treated as unbounded) so the result always contains `value`.
pub fn cut_to_fit(slice: Range, value: i64, existing: &[Range]) -> Range {
    if let Some(holder) = existing.iter().find(|r| r.contains(value)) {
        return *holder;
    }
    let slice = if slice.start < slice.end && slice.contains(value) {
        slice
    } else {
        Range::new(i64::MIN, i64::MAX)
    };
    let start = existing
        .iter()
        .filter(|r| r.end <= value)
        .map(|r| r.end)
        .fold(slice.start, i64::max);
    let end = existing
        .iter()
        .filter(|r| r.start > value)
        .map(|r| r.start)
        .fold(slice.end, i64::min);
    Range::new(start, end)
}

/// Hash of a value's canonical binary form, folded into [0, HASH_SPACE). The hash must never
/// change between releases or platforms, as it decides where existing rows live; xxh3 is fixed and
/// endian-independent. Folding XORs all 64 bits into 31 rather than dropping the high ones.
pub fn space_hash(bytes: &[u8]) -> i64 {
    let h = xxh3_64(bytes);
    let folded = (h ^ (h >> 31) ^ (h >> 62)) & (HASH_SPACE as u64 - 1);
    // Fewer than 31 bits remain, so the conversion is lossless.
    folded as i64
}

/// Clamps a partition count to 1..=32767, as i64 for the slice arithmetic.
fn partitions(n: u16) -> i64 {
    i64::from(n.clamp(1, MAX_PARTITIONS))
}

/// Start of slice `i` of `n` before the outer slices are stretched to the `i64` bounds.
fn boundary(i: i64, n: i64) -> i64 {
    // i <= n < 2^15 and HASH_SPACE = 2^31, so the product stays far below i64::MAX.
    i * HASH_SPACE / n
}

/// The `n` equal slices of the hash space for a closed dimension with `n` partitions (clamped to
/// 1..=32767): slice i covers [i * HASH_SPACE / n, (i + 1) * HASH_SPACE / n), except that the
/// outer slices extend to i64::MIN and i64::MAX, so every value, even one not produced by
/// [`space_hash`], falls in exactly one slice. Returned in order.
pub fn closed_slices(n: u16) -> Vec<Range> {
    let n = partitions(n);
    (0..n)
        .map(|i| {
            let start = if i == 0 { i64::MIN } else { boundary(i, n) };
            let end = if i == n - 1 {
                i64::MAX
            } else {
                boundary(i + 1, n)
            };
            Range::new(start, end)
        })
        .collect()
}

/// Index of the slice of [`closed_slices`]`(n)` that holds `hash`, in O(1) for the insert path.
pub fn closed_slice_index(hash: i64, n: u16) -> usize {
    let n = partitions(n);
    // Values outside the hash space belong to the outer slices.
    let hash = hash.clamp(0, HASH_SPACE - 1);
    // The largest i with floor(i * H / n) <= hash is the largest i with i * H < (hash + 1) * n.
    let index = ((hash + 1) * n - 1) / HASH_SPACE;
    // 0 <= index < n <= 32767, so the conversion is lossless.
    index as usize
}

/// Which data nodes get a new chunk. `nodes_available[j]` says whether node j of the hypertable's
/// ordered node list can take new chunks. Starting at `first mod len` spreads consecutive chunks
/// over the nodes; walking forward past unavailable nodes keeps the spread while nodes are
/// blocked. Returns indexes into `nodes_available` in placement order, fewer than
/// `replication_factor` when not enough nodes are available.
pub fn place(first: u64, nodes_available: &[bool], replication_factor: usize) -> Vec<usize> {
    let len = nodes_available.len();
    if len == 0 || replication_factor == 0 {
        return Vec::new();
    }
    // The remainder is below len, so it fits in usize.
    let start = (first % len as u64) as usize;
    (0..len)
        .map(|step| (start + step) % len)
        .filter(|&j| nodes_available[j])
        .take(replication_factor)
        .collect()
}

/// Whether data nodes that aggregate the chunks assigned to them (`(space range, node)` per chunk)
/// each return whole groups. Grouped by the space column (`by_space`), a group lives in one space
/// slice, so chunks read from different nodes must not share any space value; otherwise every
/// group may span every chunk, so all chunks must be read from one node.
pub fn groups_stay_whole<N: PartialEq>(assigned: &[(Range, N)], by_space: bool) -> bool {
    assigned.iter().enumerate().all(|(i, (space, node))| {
        assigned[i + 1..].iter().all(|(other_space, other_node)| {
            other_node == node || (by_space && !space.overlaps(other_space))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_stay_whole_when_each_space_slice_is_on_one_node() {
        let slices = closed_slices(3);
        let by_slice: Vec<(Range, &str)> = vec![
            (slices[0], "dn1"),
            (slices[1], "dn2"),
            (slices[2], "dn3"),
            (slices[0], "dn1"),
        ];
        assert!(groups_stay_whole(&by_slice, true));
        assert!(
            !groups_stay_whole(&by_slice, false),
            "a group may span every node"
        );
        let one_node: Vec<(Range, &str)> = slices.iter().map(|s| (*s, "dn1")).collect();
        assert!(groups_stay_whole(&one_node, false));
        assert!(groups_stay_whole::<&str>(&[], false));

        // The same slice on two nodes (a later chunk placed elsewhere) splits its groups.
        let mut moved = by_slice.clone();
        moved.push((slices[1], "dn3"));
        assert!(!groups_stay_whole(&moved, true));
        // After repartitioning, slices of old and new chunks overlap across nodes.
        let wider = closed_slices(2);
        let repartitioned = vec![(slices[0], "dn1"), (wider[0], "dn2")];
        assert!(!groups_stay_whole(&repartitioned, true));
    }

    /// Deterministic pseudo-random values (splitmix64) for the property-style tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn i64(&mut self) -> i64 {
            self.next() as i64
        }
    }

    /// Values worth testing: the bounds, zero and their neighbours.
    const EDGES: [i64; 9] = [
        i64::MIN,
        i64::MIN + 1,
        -2,
        -1,
        0,
        1,
        2,
        i64::MAX - 1,
        i64::MAX,
    ];

    // ---- Range ----

    #[test]
    fn range_contains_is_half_open() {
        let r = Range::new(10, 20);
        assert!(!r.contains(9));
        assert!(r.contains(10));
        assert!(r.contains(19));
        assert!(!r.contains(20));
    }

    #[test]
    fn range_ending_at_max_contains_max() {
        assert!(Range::new(0, i64::MAX).contains(i64::MAX));
        assert!(Range::new(i64::MAX - 1, i64::MAX).contains(i64::MAX));
        assert!(Range::new(i64::MIN, i64::MAX).contains(i64::MIN));
        assert!(Range::new(i64::MIN, i64::MAX).contains(i64::MAX));
        assert!(!Range::new(0, i64::MAX - 1).contains(i64::MAX - 1));
        assert!(!Range::new(0, i64::MAX - 1).contains(i64::MAX));
    }

    #[test]
    fn range_overlaps() {
        let r = Range::new(10, 20);
        assert!(r.overlaps(&Range::new(19, 30)));
        assert!(r.overlaps(&Range::new(0, 11)));
        assert!(r.overlaps(&Range::new(12, 13)));
        assert!(r.overlaps(&Range::new(i64::MIN, i64::MAX)));
        assert!(r.overlaps(&r));
        assert!(!r.overlaps(&Range::new(20, 30)));
        assert!(!r.overlaps(&Range::new(0, 10)));
        assert!(!Range::new(20, 30).overlaps(&r));
    }

    #[test]
    fn ranges_ending_at_max_overlap_on_max() {
        let a = Range::new(i64::MAX - 1, i64::MAX);
        let b = Range::new(0, i64::MAX);
        assert!(a.overlaps(&b));
        assert!(b.overlaps(&a));
        assert!(!Range::new(0, i64::MAX - 1).overlaps(&a));
    }

    #[test]
    fn overlaps_agrees_with_contains() {
        let ranges = [
            Range::new(-5, 5),
            Range::new(0, 1),
            Range::new(4, 8),
            Range::new(5, i64::MAX),
            Range::new(i64::MIN, -5),
            Range::new(i64::MAX - 1, i64::MAX),
            Range::new(i64::MIN, i64::MIN + 1),
        ];
        let mut probes: Vec<i64> = (-10..=10).collect();
        probes.extend(EDGES);
        for a in &ranges {
            for b in &ranges {
                let shared = probes.iter().any(|&v| a.contains(v) && b.contains(v));
                assert_eq!(a.overlaps(b), shared, "{a:?} vs {b:?}");
            }
        }
    }

    // ---- time_slice ----

    #[test]
    fn time_slice_positive_and_zero() {
        assert_eq!(time_slice(0, 10), Range::new(0, 10));
        assert_eq!(time_slice(1, 10), Range::new(0, 10));
        assert_eq!(time_slice(9, 10), Range::new(0, 10));
        assert_eq!(time_slice(123, 10), Range::new(120, 130));
    }

    #[test]
    fn time_slice_negative_uses_floor() {
        assert_eq!(time_slice(-1, 10), Range::new(-10, 0));
        assert_eq!(time_slice(-9, 10), Range::new(-10, 0));
        assert_eq!(time_slice(-10, 10), Range::new(-10, 0));
        assert_eq!(time_slice(-11, 10), Range::new(-20, -10));
        assert_eq!(time_slice_ordinal(-1, 10), -1);
        assert_eq!(time_slice_ordinal(-10, 10), -1);
        assert_eq!(time_slice_ordinal(-11, 10), -2);
    }

    #[test]
    fn time_slice_boundary_belongs_to_upper_slice() {
        for k in [-3_i64, -1, 0, 1, 7] {
            let value = k * 86_400;
            assert_eq!(time_slice(value, 86_400), Range::new(value, value + 86_400));
            assert_eq!(time_slice_ordinal(value, 86_400), k);
            assert_eq!(time_slice(value - 1, 86_400).end, value);
        }
    }

    #[test]
    fn time_slice_interval_one() {
        assert_eq!(time_slice(5, 1), Range::new(5, 6));
        assert_eq!(time_slice(-5, 1), Range::new(-5, -4));
        assert_eq!(time_slice(i64::MIN, 1), Range::new(i64::MIN, i64::MIN + 1));
        assert_eq!(
            time_slice(i64::MAX - 1, 1),
            Range::new(i64::MAX - 1, i64::MAX)
        );
        // i64::MAX shares the last slice, which ends at (and so contains) i64::MAX.
        assert_eq!(time_slice(i64::MAX, 1), Range::new(i64::MAX - 1, i64::MAX));
        assert_eq!(time_slice_ordinal(i64::MAX, 1), i64::MAX);
        assert_eq!(time_slice_ordinal(i64::MIN, 1), i64::MIN);
    }

    #[test]
    fn time_slice_clamps_near_min() {
        // floor(MIN / 3) * 3 is one below i64::MIN.
        let r = time_slice(i64::MIN, 3);
        assert_eq!(r.start, i64::MIN);
        assert_eq!(r.end, i64::MIN + 2);
        assert!(r.contains(i64::MIN));
        assert_eq!(time_slice(i64::MIN + 1, 3), r);
        // Aligned exactly: MIN is a multiple of 2.
        assert_eq!(time_slice(i64::MIN, 2), Range::new(i64::MIN, i64::MIN + 2));
    }

    #[test]
    fn time_slice_clamps_near_max() {
        // floor(MAX / 10) * 10 + 10 overflows, so the end is clamped.
        let r = time_slice(i64::MAX, 10);
        assert_eq!(r, Range::new(i64::MAX - 7, i64::MAX));
        assert!(r.contains(i64::MAX));
        assert_eq!(time_slice(i64::MAX - 7, 10), r);
        assert_eq!(time_slice(i64::MAX - 8, 10).end, i64::MAX - 7);
    }

    #[test]
    fn time_slice_max_when_interval_divides_max() {
        // 7 divides i64::MAX, so i64::MAX starts a slice that clamping would make empty.
        assert_eq!(i64::MAX % 7, 0);
        let r = time_slice(i64::MAX, 7);
        assert_eq!(r, Range::new(i64::MAX - 7, i64::MAX));
        assert_eq!(time_slice(i64::MAX - 1, 7), r);
        assert!(r.contains(i64::MAX));
    }

    #[test]
    fn time_slice_huge_intervals() {
        let max = i64::MAX;
        assert_eq!(time_slice(0, max), Range::new(0, max));
        assert_eq!(time_slice(max - 1, max), Range::new(0, max));
        assert_eq!(time_slice(max, max), Range::new(0, max));
        assert_eq!(time_slice(-1, max), Range::new(-max, 0));
        assert_eq!(time_slice(-max, max), Range::new(-max, 0));
        assert_eq!(time_slice(i64::MIN, max), Range::new(i64::MIN, -max));
        assert_eq!(time_slice_ordinal(i64::MIN, max), -2);

        let half = 1_i64 << 62;
        assert_eq!(time_slice(i64::MIN, half), Range::new(i64::MIN, -half));
        assert_eq!(time_slice(half, half), Range::new(half, i64::MAX));
        assert_eq!(time_slice(i64::MAX, half), Range::new(half, i64::MAX));
    }

    #[test]
    fn time_slice_invalid_interval_is_unbounded() {
        for interval in [0, -1, i64::MIN] {
            for value in EDGES {
                assert_eq!(time_slice(value, interval), Range::new(i64::MIN, i64::MAX));
                assert_eq!(time_slice_ordinal(value, interval), 0);
            }
        }
    }

    #[test]
    fn time_slice_properties_hold_everywhere() {
        let mut rng = Rng(1);
        let mut intervals = vec![1, 2, 3, 7, 10, 86_400_000_000, i64::MAX / 2, i64::MAX];
        intervals.extend((0..50).map(|_| (rng.next() >> (rng.next() % 63 + 1)) as i64 | 1));
        let mut values = EDGES.to_vec();
        values.extend((0..200).map(|_| rng.i64()));
        for &interval in &intervals {
            for &value in &values {
                let r = time_slice(value, interval);
                assert!(r.start < r.end, "{value} / {interval}: {r:?}");
                assert!(r.contains(value), "{value} / {interval}: {r:?}");
                let width = i128::from(r.end) - i128::from(r.start);
                assert!(width <= i128::from(interval));
                if r.start != i64::MIN && r.end != i64::MAX {
                    assert_eq!(width, i128::from(interval));
                }
                if r.start != i64::MIN {
                    assert_eq!(r.start.rem_euclid(interval), 0);
                }
                if value != i64::MAX {
                    let k = time_slice_ordinal(value, interval);
                    let start = i128::from(k) * i128::from(interval);
                    assert!(start <= i128::from(value));
                    assert!(i128::from(value) < start + i128::from(interval));
                }
            }
        }
    }

    // ---- cut_to_fit ----

    #[test]
    fn cut_to_fit_without_existing_keeps_slice() {
        let slice = time_slice(15, 10);
        assert_eq!(cut_to_fit(slice, 15, &[]), slice);
    }

    #[test]
    fn cut_to_fit_with_neighbours_on_both_sides() {
        let slice = Range::new(0, 100);
        let existing = [
            Range::new(70, 90),
            Range::new(-50, 20),
            Range::new(200, 300),
            Range::new(60, 70),
            Range::new(-100, -50),
        ];
        assert_eq!(cut_to_fit(slice, 40, &existing), Range::new(20, 60));
        assert_eq!(cut_to_fit(slice, 20, &existing), Range::new(20, 60));
        assert_eq!(cut_to_fit(slice, 59, &existing), Range::new(20, 60));
        assert_eq!(cut_to_fit(slice, 95, &existing), Range::new(90, 100));
    }

    #[test]
    fn cut_to_fit_with_slices_of_another_interval() {
        // Slices of a former 7-day interval around a new 1-day slice.
        let day = 86_400;
        let week = 7 * day;
        let existing = [Range::new(0, week), Range::new(2 * week, 3 * week)];
        let value = week + 3 * day + 5;
        let slice = time_slice(value, day);
        assert_eq!(cut_to_fit(slice, value, &existing), slice);

        // A new 10-day slice overlaps the first old week and is cut at its end.
        let value = week + 2 * day;
        let slice = time_slice(value, 10 * day);
        assert_eq!(slice, Range::new(0, 10 * day));
        let cut = cut_to_fit(slice, value, &existing);
        assert_eq!(cut, Range::new(week, 10 * day));

        let value = 2 * week - 1;
        let slice = time_slice(value, 20 * day);
        assert_eq!(slice, Range::new(0, 20 * day));
        let cut = cut_to_fit(slice, value, &existing);
        assert_eq!(cut, Range::new(week, 2 * week));
        for r in &existing {
            assert!(!cut.overlaps(r));
        }
    }

    #[test]
    fn cut_to_fit_returns_existing_holder_unchanged() {
        let existing = [Range::new(0, 10), Range::new(5, 50), Range::new(100, 200)];
        assert_eq!(
            cut_to_fit(Range::new(0, 1000), 150, &existing),
            Range::new(100, 200)
        );
        assert_eq!(
            cut_to_fit(Range::new(0, 1000), 0, &existing),
            Range::new(0, 10)
        );
        let unbounded = [Range::new(10, i64::MAX)];
        assert_eq!(
            cut_to_fit(time_slice(i64::MAX, 10), i64::MAX, &unbounded),
            unbounded[0]
        );
    }

    #[test]
    fn cut_to_fit_at_the_bounds() {
        let existing = [Range::new(i64::MIN, -5), Range::new(5, i64::MAX - 1)];
        assert_eq!(
            cut_to_fit(time_slice(i64::MAX, 1000), i64::MAX, &existing),
            Range::new(i64::MAX - 1, i64::MAX)
        );
        assert_eq!(
            cut_to_fit(time_slice(i64::MAX - 1, 2), i64::MAX - 1, &existing),
            Range::new(i64::MAX - 1, i64::MAX)
        );
        assert_eq!(
            cut_to_fit(Range::new(i64::MIN, i64::MAX), 0, &existing),
            Range::new(-5, 5)
        );
        let low = [Range::new(i64::MIN + 1, 0)];
        assert_eq!(
            cut_to_fit(time_slice(i64::MIN, 10), i64::MIN, &low),
            Range::new(i64::MIN, i64::MIN + 1)
        );
    }

    #[test]
    fn cut_to_fit_ignores_slice_not_holding_value() {
        let existing = [Range::new(0, 10), Range::new(20, 30)];
        assert_eq!(
            cut_to_fit(Range::new(100, 200), 15, &existing),
            Range::new(10, 20)
        );
        assert_eq!(
            cut_to_fit(Range::new(100, 200), 50, &existing),
            Range::new(30, i64::MAX)
        );
    }

    #[test]
    fn cut_to_fit_properties() {
        let mut rng = Rng(7);
        for _ in 0..2000 {
            let mut existing: Vec<Range> = Vec::new();
            for _ in 0..(rng.next() % 6) {
                let value = (rng.next() % 2000) as i64 - 1000;
                let interval = (rng.next() % 300) as i64 + 1;
                if !existing.iter().any(|r| r.contains(value)) {
                    existing.push(cut_to_fit(time_slice(value, interval), value, &existing));
                }
            }
            for a in 0..existing.len() {
                for b in a + 1..existing.len() {
                    assert!(!existing[a].overlaps(&existing[b]), "{existing:?}");
                }
            }
            let value = (rng.next() % 2000) as i64 - 1000;
            let interval = (rng.next() % 300) as i64 + 1;
            let slice = time_slice(value, interval);
            let cut = cut_to_fit(slice, value, &existing);
            assert!(cut.start < cut.end);
            assert!(cut.contains(value));
            if let Some(holder) = existing.iter().find(|r| r.contains(value)) {
                assert_eq!(&cut, holder);
            } else {
                assert!(slice.start <= cut.start && cut.end <= slice.end);
                for r in &existing {
                    assert!(!cut.overlaps(r), "{cut:?} overlaps {r:?}");
                }
            }
        }
    }

    // ---- space_hash ----

    #[test]
    fn space_hash_is_deterministic_and_in_range() {
        assert_eq!(space_hash(b"device-1"), space_hash(b"device-1"));
        assert_eq!(space_hash(&[]), space_hash(&[]));
        let mut rng = Rng(3);
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let h = space_hash(&bytes);
            assert!((0..HASH_SPACE).contains(&h), "{h}");
        }
    }

    #[test]
    fn space_hash_is_stable_across_releases() {
        // Rows already stored depend on these values; a change here moves data.
        // xxh3_64 of the empty input is 0x2D06_8005_38D3_94C2 (the reference test vector).
        assert_eq!(xxh3_64(b""), 0x2D06_8005_38D3_94C2);
        assert_eq!(space_hash(b""), 1_658_754_248);
        assert_eq!(space_hash(b"device-1"), 1_137_881_108);
    }

    #[test]
    fn space_hash_differs_for_different_inputs() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000_i64 {
            seen.insert(space_hash(&i.to_be_bytes()));
        }
        // 10,000 values in 2^31 buckets: a collision is possible but very unlikely.
        assert!(seen.len() >= 9_995, "{}", seen.len());
        assert_ne!(space_hash(b"a"), space_hash(b"b"));
        assert_ne!(space_hash(b""), space_hash(&[0]));
        assert_ne!(space_hash(&[0]), space_hash(&[0, 0]));
    }

    #[test]
    fn space_hash_is_reasonably_uniform() {
        for keys in [
            (0..10_000_i64)
                .map(|i| i.to_be_bytes().to_vec())
                .collect::<Vec<_>>(),
            (0..10_000)
                .map(|i| format!("device-{i}").into_bytes())
                .collect(),
        ] {
            let mut counts = [0_usize; 4];
            let mut high_bit = 0;
            for key in &keys {
                let h = space_hash(key);
                counts[closed_slice_index(h, 4)] += 1;
                high_bit += usize::from(h >= HASH_SPACE / 2);
            }
            for count in counts {
                assert!((2_000..=3_000).contains(&count), "{counts:?}");
            }
            assert!((4_500..=5_500).contains(&high_bit), "{high_bit}");
        }
    }

    // ---- closed_slices / closed_slice_index ----

    fn assert_covers_everything(n: u16, slices: &[Range]) {
        assert_eq!(slices.len(), usize::from(n));
        assert_eq!(slices[0].start, i64::MIN, "n = {n}");
        assert_eq!(slices[slices.len() - 1].end, i64::MAX, "n = {n}");
        for pair in slices.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "n = {n}");
        }
        for slice in slices {
            assert!(slice.start < slice.end, "n = {n}");
        }
    }

    #[test]
    fn closed_slices_cover_everything_without_gaps() {
        for n in (1..=10).chain([100, 1000, 32_766, 32_767]) {
            assert_covers_everything(n, &closed_slices(n));
        }
    }

    #[test]
    fn closed_slices_follow_the_formula() {
        assert_eq!(closed_slices(1), vec![Range::new(i64::MIN, i64::MAX)]);
        assert_eq!(
            closed_slices(2),
            vec![Range::new(i64::MIN, 1 << 30), Range::new(1 << 30, i64::MAX)]
        );
        assert_eq!(
            closed_slices(3),
            vec![
                Range::new(i64::MIN, 715_827_882),
                Range::new(715_827_882, 1_431_655_765),
                Range::new(1_431_655_765, i64::MAX),
            ]
        );
        let slices = closed_slices(32_767);
        for (i, slice) in slices.iter().enumerate().skip(1) {
            assert_eq!(slice.start, i as i64 * HASH_SPACE / 32_767);
        }
        // Equal slices: widths differ by at most one.
        let widths: Vec<i64> = slices[1..slices.len() - 1]
            .iter()
            .map(|r| r.end - r.start)
            .collect();
        let min = widths.iter().min().unwrap();
        let max = widths.iter().max().unwrap();
        assert!(max - min <= 1);
    }

    #[test]
    fn closed_slices_clamp_n() {
        assert_eq!(closed_slices(0), closed_slices(1));
        assert_eq!(closed_slices(u16::MAX), closed_slices(32_767));
        assert_eq!(closed_slices(32_768).len(), 32_767);
        for hash in EDGES.into_iter().chain([HASH_SPACE - 1, 12_345]) {
            assert_eq!(closed_slice_index(hash, 0), 0);
            assert_eq!(
                closed_slice_index(hash, u16::MAX),
                closed_slice_index(hash, 32_767)
            );
        }
    }

    fn index_by_search(slices: &[Range], hash: i64) -> usize {
        let found: Vec<usize> = (0..slices.len())
            .filter(|&i| slices[i].contains(hash))
            .collect();
        assert_eq!(found.len(), 1, "{hash} in {found:?}");
        found[0]
    }

    #[test]
    fn closed_slice_index_agrees_at_every_boundary() {
        for n in (1..=300).chain([1000, 4096, 10_000, 32_766, 32_767]) {
            let slices = closed_slices(n);
            for (i, slice) in slices.iter().enumerate() {
                assert_eq!(closed_slice_index(slice.start, n), i, "n = {n}");
                assert_eq!(closed_slice_index(slice.end - 1, n), i, "n = {n}");
                if i > 0 {
                    assert_eq!(closed_slice_index(slice.start - 1, n), i - 1, "n = {n}");
                }
            }
            assert_eq!(closed_slice_index(i64::MAX, n), slices.len() - 1);
        }
    }

    #[test]
    fn closed_slice_index_agrees_for_many_values() {
        let mut rng = Rng(11);
        let mut values = EDGES.to_vec();
        values.extend([
            HASH_SPACE - 1,
            HASH_SPACE,
            HASH_SPACE + 1,
            -HASH_SPACE,
            1 << 30,
        ]);
        values.extend((0..200).map(|_| rng.i64()));
        values.extend((0..500).map(|_| (rng.next() % HASH_SPACE as u64) as i64));
        for n in (1..=10).chain([16, 255, 1000, 32_767]) {
            let slices = closed_slices(n);
            for &hash in &values {
                assert_eq!(
                    closed_slice_index(hash, n),
                    index_by_search(&slices, hash),
                    "hash {hash}, n = {n}"
                );
            }
        }
    }

    #[test]
    fn closed_slice_index_outside_hash_space_goes_to_outer_slices() {
        for n in [1, 2, 3, 32_767] {
            let last = usize::from(n) - 1;
            assert_eq!(closed_slice_index(0, n), 0);
            assert_eq!(closed_slice_index(-1, n), 0);
            assert_eq!(closed_slice_index(i64::MIN, n), 0);
            assert_eq!(closed_slice_index(HASH_SPACE - 1, n), last);
            assert_eq!(closed_slice_index(HASH_SPACE, n), last);
            assert_eq!(closed_slice_index(i64::MAX, n), last);
        }
    }

    // ---- place ----

    #[test]
    fn place_rotates_with_first() {
        let all = [true; 4];
        assert_eq!(place(0, &all, 1), vec![0]);
        assert_eq!(place(1, &all, 1), vec![1]);
        assert_eq!(place(3, &all, 1), vec![3]);
        assert_eq!(place(0, &all, 2), vec![0, 1]);
        assert_eq!(place(1, &all, 4), vec![1, 2, 3, 0]);
    }

    #[test]
    fn place_wraps_around() {
        let all = [true; 4];
        assert_eq!(place(3, &all, 2), vec![3, 0]);
        assert_eq!(place(2, &all, 3), vec![2, 3, 0]);
    }

    #[test]
    fn place_first_larger_than_len() {
        let all = [true; 3];
        assert_eq!(place(4, &all, 1), vec![1]);
        assert_eq!(place(5, &all, 2), vec![2, 0]);
        assert_eq!(place(u64::MAX, &all, 3), vec![0, 1, 2]); // u64::MAX % 3 == 0
        assert_eq!(place(u64::MAX, &[true; 2], 1), vec![1]);
    }

    #[test]
    fn place_skips_unavailable_nodes() {
        let nodes = [true, false, true, false, true];
        assert_eq!(place(1, &nodes, 1), vec![2]);
        assert_eq!(place(3, &nodes, 2), vec![4, 0]);
        assert_eq!(place(4, &nodes, 3), vec![4, 0, 2]);
    }

    #[test]
    fn place_returns_fewer_when_not_enough_available() {
        let nodes = [false, true, false, true];
        assert_eq!(place(0, &nodes, 3), vec![1, 3]);
        assert_eq!(place(2, &nodes, 10), vec![3, 1]);
        assert_eq!(place(0, &[false; 3], 1), Vec::<usize>::new());
        assert_eq!(place(0, &[true; 2], usize::MAX), vec![0, 1]);
    }

    #[test]
    fn place_empty_cases() {
        assert!(place(0, &[], 1).is_empty());
        assert!(place(7, &[], 0).is_empty());
        assert!(place(0, &[true, true], 0).is_empty());
    }

    #[test]
    fn place_never_repeats_a_node() {
        let mut rng = Rng(5);
        for _ in 0..500 {
            let len = (rng.next() % 8) as usize;
            let nodes: Vec<bool> = (0..len).map(|_| !rng.next().is_multiple_of(3)).collect();
            let rf = (rng.next() % 10) as usize;
            let placed = place(rng.next(), &nodes, rf);
            let available = nodes.iter().filter(|&&a| a).count();
            assert_eq!(placed.len(), rf.min(available));
            let mut sorted = placed.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), placed.len());
            assert!(placed.iter().all(|&j| nodes[j]));
        }
    }
}
