//! Several replicas started at the same moment on one fresh PostgreSQL database all come
//! up: the migrations run once (sqlx's migrator holds a PostgreSQL advisory lock while it
//! applies them), the first start's organization, admin and token are made once (a replica
//! that loses the race uses the winner's), and each replica registers its own heartbeat;
//! one started with other programs than the live ones warns.

mod common;
mod custom_support;
mod scale_support;

use scale_support::{Replica, fresh_database, query};

#[test]
fn replicas_started_at_once_on_a_fresh_database_all_come_up() {
    let db = fresh_database("start");
    let root = tempfile::tempdir().unwrap();
    const N: usize = 4;
    let barrier = std::sync::Barrier::new(N);
    let replicas: Vec<Replica> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (db, root, barrier) = (&db, root.path(), &barrier);
                s.spawn(move || {
                    barrier.wait();
                    Replica::start(root, &format!("r{i}"), db, &[])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Every replica answers an authenticated call with the one admin token.
    for r in &replicas {
        let v = r.expect(200, "GET", "/api/user", None);
        assert_eq!(v["githubLogin"], "admin", "{v}");
        assert!(r.log().contains("replica started"), "{}", r.log());
    }
    // One organization, one admin, one first-start token.
    let orgs = query(&db, "SELECT name FROM organizations");
    assert_eq!(orgs, vec![vec![Some("organization".to_owned())]]);
    let users = query(&db, "SELECT login FROM users");
    assert_eq!(users.len(), 1, "{users:?}");
    let tokens = query(
        &db,
        "SELECT id FROM tokens WHERE description = 'admin token (first start)'",
    );
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    // Each migration applied once, and successfully.
    let applied = query(
        &db,
        "SELECT version::text, success::text FROM _sqlx_migrations ORDER BY version",
    );
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .count();
    assert_eq!(applied.len(), files, "{applied:?}");
    assert!(applied.iter().all(|r| r[1].as_deref() == Some("true")));
    // Four replicas, four ids, each with a heartbeat row.
    let mut ids: Vec<String> = replicas.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), N);
    let rows = query(&db, "SELECT id FROM replicas ORDER BY id");
    let rows: Vec<String> = rows.into_iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(rows, ids);
    // A replica started with other programs than the live ones says so.
    let prog = custom_support::program_copy(root.path(), "files");
    let odd = Replica::start(
        root.path(),
        "odd",
        &db,
        &["--program".into(), format!("files={}", prog.display())],
    );
    let log = odd.log();
    assert!(
        log.contains("another replica serves other programs"),
        "{log}"
    );
}
