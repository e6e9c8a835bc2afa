//! Checkpoint deltas: once a checkpoint passes the CLI's cutoff (64 KiB), each step of an
//! update arrives as text edits to the previous step's text. Writing the whole text again
//! for every step would make the bytes written grow with the square of the resource count;
//! instead each step appends one small row (its edits and the result's SHA-256) to
//! `checkpoint_deltas`, durable before the step is acknowledged. The whole text is rebuilt
//! (the version's checkpoint row plus its deltas in order) when it is read, and folded back
//! into the checkpoint row when the update ends (completed or cancelled).
//!
//! The running update's current text is also kept in memory by the API (the base of the next
//! delta), so a step costs one apply and one hash in memory and one small insert; after a
//! restart the base is rebuilt from the database once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::{Store, UpdateRow};
use crate::error::{Error, Result};

#[derive(Debug, Deserialize, Serialize)]
struct TextEdit {
    #[serde(rename = "Span")]
    span: EditSpan,
    #[serde(rename = "NewText", default)]
    new_text: String,
}

#[derive(Debug, Deserialize, Serialize)]
struct EditSpan {
    start: EditPoint,
    end: EditPoint,
}

#[derive(Debug, Deserialize, Serialize)]
struct EditPoint {
    offset: i64,
}

fn does_not_apply() -> Error {
    Error::bad_request("Bad Request: the checkpoint delta does not apply")
}

/// Applies text edits (sorted, non-overlapping byte ranges `(start, end, new text)` of
/// `base`) to `base`. Refuses ranges out of order, out of bounds or inside a UTF-8 character.
pub fn apply_edits(base: &str, edits: &[(i64, i64, &str)]) -> Result<String> {
    let mut out = String::with_capacity(base.len());
    let mut pos = 0usize;
    for (start, end, text) in edits {
        let start = usize::try_from(*start).map_err(|_| does_not_apply())?;
        let end = usize::try_from(*end).map_err(|_| does_not_apply())?;
        if start < pos || end < start || end > base.len() {
            return Err(does_not_apply());
        }
        out.push_str(base.get(pos..start).ok_or_else(does_not_apply)?);
        out.push_str(text);
        pos = end;
    }
    out.push_str(base.get(pos..).ok_or_else(does_not_apply)?);
    Ok(out)
}

/// The bytes of an edit that change something: `(start, end, new)` replacing `old` (the
/// text of `start..end`) with the common prefix and suffix of `old` and `new` left out, at
/// UTF-8 character boundaries. The CLI often replaces a long span by a text of the same
/// length that differs in a few bytes; stored like this a step costs what it changed.
fn trim_edit<'a>(start: usize, old: &str, new: &'a str) -> (usize, usize, &'a str) {
    let (o, n) = (old.as_bytes(), new.as_bytes());
    let mut p = o.iter().zip(n).take_while(|(a, b)| a == b).count();
    while !new.is_char_boundary(p) {
        p -= 1;
    }
    let (o_rest, n_rest) = (&o[p..], &n[p..]);
    let mut q = o_rest
        .iter()
        .rev()
        .zip(n_rest.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    while !new.is_char_boundary(new.len() - q) {
        q -= 1;
    }
    (start + p, start + old.len() - q, &new[p..new.len() - q])
}

/// Gaps of equal bytes shorter than this between two changed regions are kept inside one
/// stored edit (an edit costs about 80 bytes of JSON).
const MERGE_GAP: usize = 64;

/// The changed regions of `old` → `new` as `(old start, old end, new start, new end)`,
/// sorted, for two texts that are alike except for bytes changed in place and at most one
/// insertion or deletion (the shapes of the CLI's edits: re-encrypted values and changed
/// times in place, a resource added or removed). The insertion or deletion goes where the
/// fewest bytes then differ (the texts aligned at their starts before it, at their ends
/// after it); every byte that differs lies in a region, so applying the regions always
/// gives `new`, however unalike the texts are (then the regions are just larger).
fn changed_regions(old: &[u8], new: &[u8]) -> Vec<(usize, usize, usize, usize)> {
    let (lo, ln) = (old.len(), new.len());
    let short = lo.min(ln);
    let shift = lo.max(ln) - short;
    // Aligned at the ends: old[j + off_o] against new[j + off_n].
    let (off_o, off_n) = if ln >= lo { (0, shift) } else { (shift, 0) };
    let right_differs = |j: usize| old[j + off_o] != new[j + off_n];
    let total_right = (0..short).filter(|&j| right_differs(j)).count();
    // The split point s in 0..=short: bytes before s aligned at the start, the indel at s.
    let (mut best, mut best_cost) = (0usize, total_right);
    let (mut left, mut right_before) = (0usize, 0usize);
    for j in 0..short {
        left += usize::from(old[j] != new[j]);
        right_before += usize::from(right_differs(j));
        let cost = left + total_right - right_before;
        if cost < best_cost {
            (best, best_cost) = (j + 1, cost);
        }
    }
    let mut regions: Vec<(usize, usize, usize, usize)> = Vec::new();
    let mut push = |r: (usize, usize, usize, usize)| match regions.last_mut() {
        Some(last) if r.0 < last.1 + MERGE_GAP && r.2 < last.3 + MERGE_GAP => {
            last.1 = r.1;
            last.3 = r.3;
        }
        _ => regions.push(r),
    };
    let mut run: Option<usize> = None;
    for j in 0..best {
        match (old[j] != new[j], run) {
            (true, None) => run = Some(j),
            (false, Some(r)) => {
                push((r, j, r, j));
                run = None;
            }
            _ => {}
        }
    }
    if let Some(r) = run.take() {
        push((r, best, r, best));
    }
    if shift > 0 {
        push((best, best + off_o, best, best + off_n));
    }
    for j in best..short {
        match (right_differs(j), run) {
            (true, None) => run = Some(j),
            (false, Some(r)) => {
                push((r + off_o, j + off_o, r + off_n, j + off_n));
                run = None;
            }
            _ => {}
        }
    }
    if let Some(r) = run {
        push((r + off_o, lo, r + off_n, ln));
    }
    regions
}

/// Splits one trimmed edit (`old` at `start` replaced by `new`) into its changed regions,
/// each widened to whole UTF-8 characters; `None` when a region cannot be cut there.
fn split_edit(start: usize, old: &str, new: &str) -> Option<Vec<(usize, usize, String)>> {
    let mut out = Vec::new();
    for (mut os, mut oe, mut ns, mut ne) in changed_regions(old.as_bytes(), new.as_bytes()) {
        // The bytes around a region are equal in both texts, so both are at a character
        // boundary or neither is.
        while ns > 0 && os > 0 && !new.is_char_boundary(ns) {
            os -= 1;
            ns -= 1;
        }
        while ne < new.len() && oe < old.len() && !new.is_char_boundary(ne) {
            oe += 1;
            ne += 1;
        }
        old.get(os..oe)?;
        out.push((start + os, start + oe, new.get(ns..ne)?.to_owned()));
    }
    Some(out)
}

/// Applies a delta as the CLI sends it to `base`; returns the new text and the same
/// change as the edits to store (each cut down to the bytes it changes), as JSON.
pub fn apply_and_compact(base: &str, delta: &str) -> Result<(String, String)> {
    let next = apply_delta(base, delta)?;
    let edits: Vec<TextEdit> = serde_json::from_str(delta)
        .map_err(|_| Error::bad_request("Bad Request: deploymentDelta is not a list of edits"))?;
    let mut compact = Vec::with_capacity(edits.len());
    for e in &edits {
        // In bounds and on character boundaries: apply_delta checked every edit.
        let (s, t) = (e.span.start.offset as usize, e.span.end.offset as usize);
        let old = base.get(s..t).ok_or_else(does_not_apply)?;
        let (s, t, new) = trim_edit(s, old, &e.new_text);
        if s == t && new.is_empty() {
            continue;
        }
        let pieces = match base.get(s..t).and_then(|old| split_edit(s, old, new)) {
            Some(p) => p,
            None => vec![(s, t, new.to_owned())],
        };
        for (s, t, new) in pieces {
            compact.push(TextEdit {
                span: EditSpan {
                    start: EditPoint { offset: s as i64 },
                    end: EditPoint { offset: t as i64 },
                },
                new_text: new,
            });
        }
    }
    let json = serde_json::to_string(&compact)
        .map_err(|_| Error::Internal("cannot encode checkpoint edits".into()))?;
    // What is stored must rebuild exactly the text the CLI's delta gave.
    if apply_delta(base, &json).ok().as_deref() != Some(next.as_str()) {
        return Err(Error::Internal(
            "the compacted checkpoint edits do not rebuild the state".into(),
        ));
    }
    Ok((next, json))
}

/// Applies a delta as the CLI sends it (`deploymentDelta`: a JSON array of
/// `{"Span": {"start": {"offset": …}, "end": {"offset": …}}, "NewText": …}`) to `base`.
pub fn apply_delta(base: &str, delta: &str) -> Result<String> {
    let edits: Vec<TextEdit> = serde_json::from_str(delta)
        .map_err(|_| Error::bad_request("Bad Request: deploymentDelta is not a list of edits"))?;
    let edits: Vec<(i64, i64, &str)> = edits
        .iter()
        .map(|e| (e.span.start.offset, e.span.end.offset, e.new_text.as_str()))
        .collect();
    apply_edits(base, &edits)
}

/// The SHA-256 of a text, lowercase hex (the CLI's `checkpointHash`).
pub fn hex_sha256(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The deltas of (stack, version) in order: (seq, edits, hash).
async fn deltas_of(
    conn: &mut AnyConnection,
    stack_id: &str,
    version: i64,
) -> Result<Vec<(i64, String, String)>> {
    let rows = sqlx::query(
        "SELECT seq, edits, hash FROM checkpoint_deltas WHERE stack_id = $1 AND version = $2 \
         ORDER BY seq",
    )
    .bind(stack_id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// `base` with `deltas` applied in order; checks the last result against its hash. Returns
/// the text and the last delta's sequence number (0 when there is none).
fn replay(base: String, deltas: &[(i64, String, String)]) -> Result<(String, i64)> {
    let mut text = base;
    for (_, edits, _) in deltas {
        text = apply_delta(&text, edits).map_err(|_| {
            Error::Internal("a stored checkpoint delta does not apply to its base".into())
        })?;
    }
    match deltas.last() {
        None => Ok((text, 0)),
        Some((seq, _, hash)) if hex_sha256(&text) == *hash => Ok((text, *seq)),
        Some(_) => Err(Error::Internal(
            "the stored checkpoint deltas do not rebuild the state they recorded".into(),
        )),
    }
}

/// The checkpoint row of (stack, version) with its pending deltas applied, and the last
/// delta's sequence number (0: none), if the row exists.
pub(super) async fn current_text(
    conn: &mut AnyConnection,
    stack_id: &str,
    version: i64,
) -> Result<Option<(String, i64)>> {
    let base: Option<String> =
        sqlx::query("SELECT deployment FROM checkpoints WHERE stack_id = $1 AND version = $2")
            .bind(stack_id)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
    let Some(base) = base else { return Ok(None) };
    let deltas = deltas_of(conn, stack_id, version).await?;
    replay(base, &deltas).map(Some)
}

/// Folds the pending deltas of (stack, version) into its checkpoint row and deletes them
/// (inside the caller's transaction).
pub(super) async fn fold(conn: &mut AnyConnection, stack_id: &str, version: i64) -> Result<()> {
    let deltas = deltas_of(conn, stack_id, version).await?;
    let Some((last, _, _)) = deltas.last() else {
        return Ok(());
    };
    let base: String =
        sqlx::query("SELECT deployment FROM checkpoints WHERE stack_id = $1 AND version = $2")
            .bind(stack_id)
            .bind(version)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
    let (text, _) = replay(base, &deltas)?;
    sqlx::query("UPDATE checkpoints SET deployment = $1 WHERE stack_id = $2 AND version = $3")
        .bind(&text)
        .bind(stack_id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM checkpoint_deltas WHERE stack_id = $1 AND version = $2 AND seq <= $3")
        .bind(stack_id)
        .bind(version)
        .bind(*last)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Deletes the deltas of (stack, version): a whole checkpoint replaced them.
pub(super) async fn discard(conn: &mut AnyConnection, stack_id: &str, version: i64) -> Result<()> {
    sqlx::query("DELETE FROM checkpoint_deltas WHERE stack_id = $1 AND version = $2")
        .bind(stack_id)
        .bind(version)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

impl Store {
    /// Appends one delta step (`edits`, already checked to turn the current text into
    /// `text`, whose SHA-256 is `hash`) to a running update's checkpoint; committed
    /// (fsync'd) when this returns. Once the steps stored since the checkpoint row was
    /// written hold more bytes than `text`, the row is rewritten with `text` and the steps
    /// deleted instead, so the update's rows never hold much more than twice its state and
    /// the rewrites cost no more than the steps they replace. Refused (409) once the update
    /// no longer holds the stack, (400) when `seq` is not after the last stored step.
    pub async fn append_checkpoint_delta(
        &self,
        update: &UpdateRow,
        seq: i64,
        edits: &str,
        hash: &str,
        text: &str,
    ) -> Result<()> {
        let _w = self.write_lock().await;
        let mut tx = self.pool.begin().await?;
        // Held to the commit: a cancel (or a start after the lease expired) waits for this
        // write, or this one sees it and writes nothing.
        let holds = sqlx::query(&format!(
            "SELECT 1 FROM stacks s JOIN updates u ON u.id = s.active_update \
             WHERE s.id = $1 AND u.id = $2 AND u.status = 'running'{}",
            self.row_lock()
        ))
        .bind(&update.stack_id)
        .bind(&update.id)
        .fetch_optional(&mut *tx)
        .await?;
        if holds.is_none() {
            return Err(Error::Conflict(
                "Conflict: the update no longer holds the stack (it was cancelled or its lease expired)"
                    .into(),
            ));
        }
        let row = sqlx::query(
            "SELECT MAX(seq), COALESCE(SUM(LENGTH(edits)), 0) FROM checkpoint_deltas \
             WHERE stack_id = $1 AND version = $2",
        )
        .bind(&update.stack_id)
        .bind(update.version)
        .fetch_one(&mut *tx)
        .await?;
        let last: Option<i64> = row.try_get(0)?;
        let stored: i64 = row.try_get(1)?;
        if last.is_some_and(|l| seq <= l) {
            return Err(Error::bad_request(
                "Bad Request: the checkpoint delta's sequence number is not after the last one",
            ));
        }
        if stored.saturating_add(edits.len() as i64) > text.len() as i64 {
            sqlx::query(
                "UPDATE checkpoints SET deployment = $1 WHERE stack_id = $2 AND version = $3",
            )
            .bind(text)
            .bind(&update.stack_id)
            .bind(update.version)
            .execute(&mut *tx)
            .await?;
            discard(&mut tx, &update.stack_id, update.version).await?;
        } else {
            sqlx::query(
                "INSERT INTO checkpoint_deltas (stack_id, version, seq, edits, hash) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&update.stack_id)
            .bind(update.version)
            .bind(seq)
            .bind(edits)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The state a running update has written so far (its checkpoint with the deltas since),
    /// and the sequence number of its last delta (0: none); `None` before its first checkpoint.
    pub async fn current_checkpoint(&self, update: &UpdateRow) -> Result<Option<(String, i64)>> {
        let mut conn = self.pool.acquire().await?;
        current_text(&mut conn, &update.stack_id, update.version).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order_and_reject_bad_ranges() {
        assert_eq!(
            apply_edits("abcdef", &[(1, 2, "X"), (4, 6, "")]).unwrap(),
            "aXcd"
        );
        assert_eq!(apply_edits("abc", &[]).unwrap(), "abc");
        assert_eq!(apply_edits("abc", &[(3, 3, "d")]).unwrap(), "abcd");
        assert!(apply_edits("abc", &[(2, 1, "")]).is_err());
        assert!(apply_edits("abc", &[(0, 4, "")]).is_err());
        assert!(apply_edits("abc", &[(2, 3, ""), (0, 1, "")]).is_err());
        assert!(apply_edits("abc", &[(-1, 1, "")]).is_err());
        // Never splits a UTF-8 character.
        assert!(apply_edits("é", &[(1, 2, "")]).is_err());
    }

    fn edit(start: i64, end: i64, text: &str) -> String {
        serde_json::json!({"Span": {"start": {"offset": start, "line": 0, "column": 0},
            "end": {"offset": end, "line": 0, "column": 0}}, "NewText": text})
        .to_string()
    }

    #[test]
    fn stored_edits_keep_only_the_changed_bytes_and_rebuild_the_same_text() {
        let base = "head:0001|aaaaaaaaaa-é-bbbbbbbbbb|tail";
        // The CLI's shape: a long span replaced by a text of the same length.
        let delta = format!(
            "[{},{}]",
            edit(5, 9, "0002"),
            edit(10, 34, "aaaaaaaaaa-è-bbbbbbbbbb")
        );
        let (next, stored) = apply_and_compact(base, &delta).unwrap();
        assert_eq!(next, "head:0002|aaaaaaaaaa-è-bbbbbbbbbb|tail");
        assert_eq!(apply_delta(base, &stored).unwrap(), next);
        let edits: Vec<TextEdit> = serde_json::from_str(&stored).unwrap();
        let kept: Vec<(i64, i64, &str)> = edits
            .iter()
            .map(|e| (e.span.start.offset, e.span.end.offset, e.new_text.as_str()))
            .collect();
        // Whole characters only: é and è share their first byte.
        assert_eq!(kept, [(8, 9, "2"), (21, 23, "è")]);
        // An edit that changes nothing is dropped; insertions and deletions stay.
        let (_, stored) = apply_and_compact(
            "abc",
            &format!(
                "[{},{},{}]",
                edit(0, 1, "a"),
                edit(1, 1, "X"),
                edit(2, 3, "")
            ),
        )
        .unwrap();
        assert_eq!(apply_delta("abc", &stored).unwrap(), "aXb");
        assert_eq!(
            serde_json::from_str::<Vec<TextEdit>>(&stored)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(trim_edit(0, "abab", "ab"), (2, 4, ""));
        assert_eq!(trim_edit(3, "", "xy"), (3, 3, "xy"));
    }

    fn regions_rebuild(old: &str, new: &str) -> Vec<(usize, usize, String)> {
        let pieces = split_edit(0, old, new).unwrap();
        let mut out = String::new();
        let mut pos = 0;
        for (s, e, t) in &pieces {
            out.push_str(&old[pos..*s]);
            out.push_str(t);
            pos = *e;
        }
        out.push_str(&old[pos..]);
        assert_eq!(out, new, "{pieces:?}");
        pieces
    }

    #[test]
    fn an_edit_splits_into_its_changed_regions_and_one_insertion_or_deletion() {
        let pad = "x".repeat(200);
        let old = format!("A{pad}1{pad}2{pad}3{pad}");
        // In place, far apart: two small regions, not one long one.
        let new = format!("B{pad}1{pad}2{pad}4{pad}");
        let p = regions_rebuild(&old, &new);
        assert_eq!(p, [(0, 1, "B".into()), (603, 604, "4".into())]);
        // An insertion in the middle with changes on both sides of it.
        let new = format!("B{pad}1{pad}INSERTED2{pad}4{pad}");
        let p = regions_rebuild(&old, &new);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p.iter().map(|(_, _, t)| t.len()).sum::<usize>() <= 12,
            "{p:?}"
        );
        // A deletion.
        let new = format!("A{pad}1{pad}{pad}3{pad}");
        let p = regions_rebuild(&old, &new);
        assert!(
            p.iter().all(|(s, e, t)| e - s <= 1 && t.is_empty()),
            "{p:?}"
        );
        // Multibyte characters are never cut; unalike texts still rebuild.
        regions_rebuild(&format!("é{pad}ü"), &format!("è{pad}ö"));
        regions_rebuild("日本語のテキスト", "中文的文字和更多");
        regions_rebuild("", "abc");
        regions_rebuild("abc", "");
        regions_rebuild(&"ab".repeat(500), &"ba".repeat(499));
    }

    #[test]
    fn deltas_replay_in_order_and_check_the_last_hash() {
        let d1 = format!("[{}]", edit(1, 2, "X"));
        let d2 = format!("[{},{}]", edit(0, 0, ">"), edit(3, 3, "!"));
        let deltas = vec![(5, d1, hex_sha256("aXc")), (6, d2, hex_sha256(">aXc!"))];
        assert_eq!(replay("abc".into(), &deltas).unwrap(), (">aXc!".into(), 6));
        assert_eq!(replay("abc".into(), &[]).unwrap(), ("abc".into(), 0));
        let mut wrong = deltas.clone();
        wrong[1].2 = hex_sha256("something else");
        assert!(matches!(
            replay("abc".into(), &wrong),
            Err(Error::Internal(_))
        ));
        assert!(apply_delta("abc", "{}").is_err());
        assert!(apply_delta("abc", "[{\"Span\":1}]").is_err());
    }
}
