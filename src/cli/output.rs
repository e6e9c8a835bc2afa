//! The CLI's stdout and stderr: anonymous files read as they grow, never pipes.
//!
//! A Go program that writes to a broken stdout or stderr pipe dies of SIGPIPE on the
//! spot, whatever disposition it inherited (the Go runtime re-raises it for descriptors
//! 1 and 2). A CLI whose driver died would then die at its next line of output, in the
//! middle of cancelling, holding the stack's lock. So the CLI writes to regular files
//! that cannot break: each stream is a temporary file with no name in any directory
//! (`O_TMPFILE`, or created and unlinked at once where the file system lacks it), opened
//! `O_APPEND`, whose descriptor the child inherits. Nothing is left on disk whatever
//! happens to the driver: the space is freed when the last process holding the file (the
//! CLI, or a plugin that inherited it) exits.
//!
//! The driver reads each file with positioned reads (`pread`, so the shared file offset
//! the writers append at is never moved) as it grows: it checks again at once after
//! data, and backs off from [`POLL_MIN`] to [`POLL_MAX`] while the stream is quiet; it
//! stops when told that the CLI exited, after reading what was written up to then. Lines
//! go to the callback and into a bounded tail, as they did from a pipe. The part already
//! read is given back to the file system as it goes (a punched hole), so a long, chatty
//! command does not fill the disk.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A callback that receives each line of a stream (without its newline).
pub type LineCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// The shortest wait between two reads of a quiet stream.
pub(crate) const POLL_MIN: Duration = Duration::from_millis(2);
/// The longest wait between two reads of a quiet stream (the latency of a line that
/// follows a long silence).
pub(crate) const POLL_MAX: Duration = Duration::from_millis(50);
/// How much is read at once.
const CHUNK: usize = 64 * 1024;
/// Once this much has been read past the last hole, the read part is punched out.
const PUNCH_EVERY: u64 = 4 * 1024 * 1024;

/// One captured stream: an anonymous file the child writes and the driver reads.
pub(crate) struct Capture {
    file: File,
}

impl Capture {
    /// A new, empty capture file in the temporary directory.
    pub(crate) fn new() -> io::Result<Capture> {
        let file = tempfile::tempfile()?;
        // Every writer (the CLI and whatever inherits the descriptor) appends.
        let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL)?;
        let flags = nix::fcntl::OFlag::from_bits_truncate(flags) | nix::fcntl::OFlag::O_APPEND;
        nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags))?;
        Ok(Capture { file })
    }

    /// The child's end: the same open file (so the same appending offset).
    pub(crate) fn stdio(&self) -> io::Result<Stdio> {
        Ok(Stdio::from(self.file.try_clone()?))
    }

    /// Reads the file as it grows until `exited` is cancelled, then what is left up to
    /// the size it had then; returns the tail (at most `max` bytes) of the lines.
    pub(crate) async fn follow(
        self,
        max: usize,
        cb: Option<LineCallback>,
        exited: CancellationToken,
    ) -> String {
        let mut lines = Lines {
            partial: Vec::new(),
            out: Tail::new(max),
            cb,
        };
        let mut buf = vec![0u8; CHUNK];
        let mut pos: u64 = 0;
        let mut punched: u64 = 0;
        let mut wait = POLL_MIN;
        // Set once the process has exited: the size the file had then.
        let mut end: Option<u64> = None;
        loop {
            if end.is_none() && exited.is_cancelled() {
                end = Some(self.file.metadata().map(|m| m.len()).unwrap_or(pos));
            }
            let want = match end {
                Some(end) if pos >= end => break,
                Some(end) => buf.len().min((end - pos) as usize),
                None => buf.len(),
            };
            // A read of data just written comes from the page cache: short enough to
            // make on the runtime's thread.
            match self.file.read_at(&mut buf[..want], pos) {
                Ok(0) if end.is_some() => break,
                Ok(0) => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = exited.cancelled() => {}
                    }
                    wait = (wait * 2).min(POLL_MAX);
                }
                Ok(n) => {
                    pos += n as u64;
                    lines.feed(&buf[..n]);
                    wait = POLL_MIN;
                    if pos - punched >= PUNCH_EVERY {
                        punch(&self.file, punched, pos);
                        punched = pos;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(target: "pulumi_auto::cli", error = %e, "reading the CLI's output failed");
                    break;
                }
            }
        }
        lines.finish()
    }
}

/// Gives the bytes `from..to` back to the file system (best effort: where the file
/// system cannot punch holes, the file just keeps them until it is closed).
fn punch(file: &File, from: u64, to: u64) {
    use nix::fcntl::FallocateFlags;
    let _ = nix::fcntl::fallocate(
        file,
        FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
        from as i64,
        (to - from) as i64,
    );
}

/// A bounded text buffer that keeps the tail.
pub(crate) struct Tail {
    text: String,
    max: usize,
}

impl Tail {
    fn new(max: usize) -> Self {
        Tail {
            text: String::new(),
            max,
        }
    }

    fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > self.max {
            let mut cut = self.text.len() - self.max;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
        }
    }
}

/// Cuts bytes into lines for the callback and the tail.
struct Lines {
    partial: Vec<u8>,
    out: Tail,
    cb: Option<LineCallback>,
}

impl Lines {
    fn feed(&mut self, mut data: &[u8]) {
        while let Some(i) = data.iter().position(|b| *b == b'\n') {
            if self.partial.is_empty() {
                self.line(&data[..i]);
            } else {
                self.partial.extend_from_slice(&data[..i]);
                let line = std::mem::take(&mut self.partial);
                self.line(&line);
            }
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
    }

    fn line(&mut self, mut bytes: &[u8]) {
        if bytes.last() == Some(&b'\r') {
            bytes = &bytes[..bytes.len() - 1];
        }
        let line = String::from_utf8_lossy(bytes);
        if let Some(cb) = &self.cb {
            cb(&line);
        }
        self.out.push_line(&line);
    }

    /// The last line may lack its newline.
    fn finish(mut self) -> String {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line);
        }
        self.out.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_tail_keeps_the_end_on_char_boundaries() {
        let mut t = Tail::new(10);
        for l in ["ééééé", "abc", "defgh"] {
            t.push_line(l);
        }
        assert!(t.text.len() <= 10);
        assert!(t.text.ends_with("defgh\n"));
    }

    fn writer(c: &Capture) -> File {
        c.file.try_clone().unwrap()
    }

    #[tokio::test]
    async fn lines_arrive_as_written_and_the_rest_after_exit() {
        let capture = Capture::new().unwrap();
        let mut w = writer(&capture);
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let cb: LineCallback = {
            let seen = seen.clone();
            Arc::new(move |l: &str| seen.lock().unwrap().push(l.to_owned()))
        };
        let exited = CancellationToken::new();
        let task = tokio::spawn(capture.follow(1024, Some(cb), exited.clone()));
        w.write_all(b"one\r\ntw").unwrap();
        // A line shows up while the writer is still running (the live progress case).
        let t = std::time::Instant::now();
        while seen.lock().unwrap().is_empty() {
            assert!(t.elapsed() < Duration::from_secs(5), "no line arrived");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(t.elapsed() < POLL_MAX * 4, "{:?}", t.elapsed());
        w.write_all(b"o\nthree").unwrap();
        exited.cancel();
        let text = task.await.unwrap();
        assert_eq!(text, "one\ntwo\nthree\n");
        assert_eq!(*seen.lock().unwrap(), ["one", "two", "three"]);
    }

    #[tokio::test]
    async fn the_tail_is_bounded_and_what_was_read_is_given_back() {
        let capture = Capture::new().unwrap();
        let mut w = writer(&capture);
        let probe = writer(&capture);
        let exited = CancellationToken::new();
        let task = tokio::spawn(capture.follow(100, None, exited.clone()));
        let line = "x".repeat(999) + "\n";
        for _ in 0..20_000 {
            w.write_all(line.as_bytes()).unwrap();
        }
        w.write_all(b"last\n").unwrap();
        exited.cancel();
        let text = task.await.unwrap();
        assert!(text.len() <= 100 && text.ends_with("x\nlast\n"), "{text:?}");
        // 20 MB written; the file system holds at most the unread remainder (where it
        // can punch holes: tmpfs, ext4, xfs, btrfs).
        let meta = probe.metadata().unwrap();
        assert_eq!(meta.len(), 20_000 * 1000 + 5);
        assert!(
            meta.blocks() * 512 < 2 * PUNCH_EVERY,
            "{} bytes still allocated",
            meta.blocks() * 512
        );
    }

    #[tokio::test]
    async fn the_file_has_no_name_and_is_appended_to() {
        let capture = Capture::new().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&capture.file);
        let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        assert!(
            target.to_string_lossy().ends_with("(deleted)"),
            "{}",
            target.display()
        );
        let flags = nix::fcntl::fcntl(&capture.file, nix::fcntl::FcntlArg::F_GETFL).unwrap();
        assert!(nix::fcntl::OFlag::from_bits_truncate(flags).contains(nix::fcntl::OFlag::O_APPEND));
    }
}
