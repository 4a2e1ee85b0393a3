//! Prefix scans that merge the overlay with the committed data.
//!
//! Both sides are sorted by key, so one pass of a two-way merge yields the visible state in
//! ascending key order: on equal keys the overlay wins, and an overlay delete hides the
//! committed value. The RocksDB side is a raw iterator bounded to the prefix, so no key
//! outside the prefix is read and no key or value is copied.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use rocksdb::{ColumnFamily, DB, PrefixRange, ReadOptions};

/// The callback of a prefix scan: called with each visible key and value in ascending key
/// order; returning [`ControlFlow::Break`] ends the scan early.
pub type ScanVisitor<'a> = dyn FnMut(&[u8], &[u8]) -> ControlFlow<()> + 'a;

/// What one merge step consumed.
struct Step {
    flow: ControlFlow<()>,
    disk: bool,
    overlay: bool,
}

/// Visits the merged view of `overlay` (pending writes under `prefix` from `from` on,
/// ascending) and the committed keys under `prefix` from `from` on in `cf`, until `visit`
/// breaks or both sides are exhausted. `from` lets a caller that knows where live keys start
/// seek past the deleted ones (a queue-like store accumulates tombstones at its head, which a
/// scan from the prefix would step over one by one).
pub(crate) fn merged_prefix_scan<'a>(
    db: &DB,
    cf: &ColumnFamily,
    prefix: &[u8],
    from: &[u8],
    overlay: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    visit: &mut ScanVisitor<'_>,
) -> Result<(), rocksdb::Error> {
    let mut read = ReadOptions::default();
    read.set_iterate_range(PrefixRange(prefix));
    let mut disk = db.raw_iterator_cf_opt(cf, read);
    disk.seek(from.max(prefix));
    let mut overlay = overlay.peekable();
    loop {
        let step = match (disk.item(), overlay.peek().copied()) {
            (None, None) => break,
            (Some((key, value)), None) => committed(visit, key, value),
            (None, Some(pending)) => written(visit, pending, false),
            (Some((key, value)), Some(pending)) => match key.cmp(pending.0) {
                Ordering::Less => committed(visit, key, value),
                Ordering::Equal => written(visit, pending, true),
                Ordering::Greater => written(visit, pending, false),
            },
        };
        if step.flow.is_break() {
            return Ok(());
        }
        if step.disk {
            disk.next();
        }
        if step.overlay {
            overlay.next();
        }
    }
    disk.status()
}

fn committed(visit: &mut ScanVisitor<'_>, key: &[u8], value: &[u8]) -> Step {
    Step { flow: visit(key, value), disk: true, overlay: false }
}

/// A pending write is visited (if it is not a delete) with its key and value; `shadows`
/// says whether it hides a committed entry of the same key, which is then skipped.
fn written(visit: &mut ScanVisitor<'_>, pending: (&[u8], Option<&[u8]>), shadows: bool) -> Step {
    let (key, value) = pending;
    let flow = match value {
        Some(value) => visit(key, value),
        None => ControlFlow::Continue(()),
    };
    Step { flow, disk: shadows, overlay: true }
}
