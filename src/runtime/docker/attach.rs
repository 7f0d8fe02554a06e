//! The attach stream read straight off the engine's unix socket, for the read path's cost.
//!
//! bollard reads an attach stream through hyper's upgraded connection and a `FramedRead` with an
//! 8 KiB buffer that it zeroes before every read, and hands each engine frame over with its own
//! wake-up: about a third of the tap's CPU during a sync went there. Here the same HTTP/1.1
//! upgrade (`POST /containers/ID/attach`, `Connection: Upgrade`, `Upgrade: tcp`, as the Docker CLI
//! sends it) is written on a `UnixStream`, and the multiplexed stream after the `101` (or `200`
//! from engines that answer without upgrading) is read into 256 KiB buffers, paced ([`Intake`],
//! [`PAUSE`]); every frame's payload is split off its buffer without a copy. The write half is the
//! helper's stdin, for the end marker's acknowledgement.
//!
//! Only for a local engine on a unix socket (`DOCKER_HOST=unix://…` or the default socket, Docker or
//! Podman); TCP and TLS engines attach through bollard.
use super::DockerError;
use crate::runtime::{read_more, Intake, Output, RunError};
use bollard::errors::Error as BollardError;
use bytes::{Buf, BytesMut};
use futures_util::Stream;
use std::io;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// Longest response head accepted before the stream.
const MAX_HEAD: usize = 64 * 1024;
/// How long the engine has to answer the attach request.
const ANSWER: Duration = Duration::from_secs(60);
/// The pause before the read that follows a short one ([`Intake`]). The engine writes the stream in
/// frames of at most 32 KiB, one write each: read as they come, that is a wake-up of the tap per
/// frame. While the tap sleeps, the frames wait in the socket's send buffer (208 KiB by default,
/// `net.core.wmem_default`), which the pause (plus the thread's timer slack, 50 µs by default) must
/// not fill: the engine would then wait for the tap. Measured on the bundled connector at about
/// 380 MB/s: 100 µs cut the tap's CPU by a fifth (0.28 to 0.23 µs per record) and its wall time by
/// 1 to 3 %; 200 to 250 µs cost up to 5 % in wall time, 500 µs 24 %.
const PAUSE: Duration = Duration::from_micros(100);

/// An attached container: its output as frames, and its stdin when it was asked for.
pub struct Attached {
    pub output: Pin<Box<dyn Stream<Item = Result<Output, RunError>> + Send>>,
    pub input: Option<Pin<Box<dyn AsyncWrite + Send>>>,
}

/// Attaches to container `id` through the unix socket at `socket`, speaking API `version`
/// (`1.41`).
pub async fn attach(
    socket: &str,
    version: &str,
    id: &str,
    stdin: bool,
) -> Result<Attached, DockerError> {
    let error = |source: BollardError| DockerError::Attach {
        id: id.to_string(),
        source,
    };
    let io_error = |err: io::Error| error(BollardError::IOError { err });
    let mut stream = UnixStream::connect(socket).await.map_err(|e| {
        io_error(io::Error::new(
            e.kind(),
            format!("cannot connect to the engine's socket {socket}: {e}"),
        ))
    })?;
    let request = format!(
        "POST /v{version}/containers/{id}/attach?stream=1&stdin={}&stdout=1&stderr=1 HTTP/1.1\r\n\
         Host: docker\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\
         Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        u8::from(stdin)
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(io_error)?;
    let mut buf = BytesMut::new();
    let head = match tokio::time::timeout(ANSWER, read_head(&mut stream, &mut buf)).await {
        Ok(head) => head.map_err(io_error)?,
        Err(_) => {
            return Err(io_error(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the engine did not answer the attach request in {} s",
                    ANSWER.as_secs()
                ),
            )))
        }
    };
    match head.status {
        101 => {}
        // Engines that hand the connection over without the upgrade answer 200 with no body
        // length; a 200 with one is an answer from something that did not (a proxy).
        200 if head.content_length.is_none() && !head.chunked => {}
        200 => {
            return Err(error(BollardError::DockerStreamError {
                error:
                    "the engine (or a proxy in front of it) answered the attach request without \
                        handing the connection over to the container's output"
                        .into(),
            }))
        }
        status => {
            let body = read_body(&mut stream, &mut buf, head.content_length).await;
            // The JSON error, also out of a chunked body.
            let json = match (memchr::memchr(b'{', &body), memchr::memrchr(b'}', &body)) {
                (Some(start), Some(end)) if start < end => &body[start..=end],
                _ => &body[..],
            };
            let message = serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("message")?.as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
            return Err(error(BollardError::DockerResponseServerError {
                status_code: status,
                message,
            }));
        }
    }
    let (read, write) = stream.into_split();
    let id = id.to_string();
    // Without stdin the write half stays with the reader: dropping it would half-close the
    // connection.
    let (input, keep): (Option<Pin<Box<dyn AsyncWrite + Send>>>, _) = if stdin {
        (Some(Box::pin(write)), None)
    } else {
        (None, Some(write))
    };
    let frames = Frames {
        read,
        buf,
        intake: Intake::paced(PAUSE),
        _keep: keep,
    };
    let output = futures_util::stream::unfold(Some((frames, id)), |state| async move {
        let (mut frames, id) = state?;
        match frames.next().await {
            Ok(Some(output)) => Some((Ok(output), Some((frames, id)))),
            Ok(None) => None,
            Err(source) => Some((
                Err(RunError::from(DockerError::Output { id, source })),
                None,
            )),
        }
    });
    Ok(Attached {
        output: Box::pin(output),
        input,
    })
}

/// The multiplexed stream: frames of an 8-byte header (stream 0 stdin, 1 stdout, 2 stderr, 3 an
/// error from the engine; three zero bytes; the payload's length, big-endian) and the payload.
struct Frames<R> {
    read: R,
    buf: BytesMut,
    intake: Intake,
    _keep: Option<tokio::net::unix::OwnedWriteHalf>,
}

impl<R: AsyncRead + Unpin> Frames<R> {
    /// The next frame with a payload; `None` at the end of the stream. A stream that ends inside
    /// a frame is an error (as bollard's decoder has it): output was lost, whether or not an end
    /// marker would tell.
    async fn next(&mut self) -> Result<Option<Output>, BollardError> {
        loop {
            if let Some(frame) = split_frame(&mut self.buf)? {
                match frame {
                    Some(output) => return Ok(Some(output)),
                    None => continue,
                }
            }
            if self
                .intake
                .read(&mut self.read, &mut self.buf)
                .await
                .map_err(|err| BollardError::IOError { err })?
                == 0
            {
                if !self.buf.is_empty() {
                    return Err(BollardError::DockerStreamError {
                        error: format!(
                            "the attach stream ended inside a frame ({} bytes of it came, header included)",
                            self.buf.len()
                        ),
                    });
                }
                return Ok(None);
            }
        }
    }
}

/// Splits the first whole frame off `buf`: `Ok(None)` when it is not all there yet,
/// `Ok(Some(None))` for a frame with nothing to hand on (empty, or stdin echoed).
#[allow(clippy::option_option)]
fn split_frame(buf: &mut BytesMut) -> Result<Option<Option<Output>>, BollardError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let kind = buf[0];
    let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    if buf.len() < 8 + len {
        return Ok(None);
    }
    buf.advance(8);
    let payload = buf.split_to(len).freeze();
    match kind {
        _ if payload.is_empty() => Ok(Some(None)),
        0 => Ok(Some(None)),
        1 => Ok(Some(Some(Output::Stdout(payload)))),
        2 => Ok(Some(Some(Output::Stderr(payload)))),
        3 => Err(BollardError::DockerStreamError {
            error: String::from_utf8_lossy(&payload).trim().to_string(),
        }),
        other => Err(BollardError::DockerStreamError {
            error: format!("unknown stream {other} in the attach stream"),
        }),
    }
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
}

/// Reads the response head into `buf` and takes it off, leaving what followed it.
async fn read_head<R: AsyncRead + Unpin>(read: &mut R, buf: &mut BytesMut) -> io::Result<Head> {
    loop {
        if let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") {
            let head = buf.split_to(end + 4);
            return parse_head(&head);
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the engine's answer to the attach request has no end to its head",
            ));
        }
        if read_more(read, buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the engine closed the connection before answering the attach request",
            ));
        }
    }
}

fn parse_head(head: &[u8]) -> io::Result<Head> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the engine answered the attach request with `{status_line}`"),
            )
        })?;
    // The stream is always multiplexed: the tap never gives a container a terminal (whatever
    // the Content-Type says: engines before API 1.42 call a multiplexed stream "raw").
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
    };
    for (name, value) in lines.filter_map(|line| line.split_once(':')) {
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.trim().parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    Ok(head)
}

/// An error answer's body (at most 64 KiB, a few seconds).
async fn read_body<R: AsyncRead + Unpin>(
    read: &mut R,
    buf: &mut BytesMut,
    length: Option<usize>,
) -> Vec<u8> {
    let want = length.unwrap_or(MAX_HEAD).min(MAX_HEAD);
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while buf.len() < want {
            if read_more(read, buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
    })
    .await;
    buf[..buf.len().min(want)].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![kind, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// Reads `bytes` cut into pieces of `piece` bytes (a reader that returns what one read gets).
    async fn read_all(
        bytes: &[u8],
        piece: usize,
        intake: Intake,
    ) -> Result<Vec<(u8, Vec<u8>)>, String> {
        let (mut tx, rx) = tokio::io::duplex(piece.max(1));
        let owned = bytes.to_vec();
        let writer = tokio::spawn(async move {
            for chunk in owned.chunks(piece.max(1)) {
                tx.write_all(chunk).await.unwrap();
            }
        });
        let mut frames = Frames {
            read: rx,
            buf: BytesMut::new(),
            intake,
            _keep: None,
        };
        let mut out = vec![];
        loop {
            match frames.next().await {
                Ok(Some(Output::Stdout(b))) => out.push((1, b.to_vec())),
                Ok(Some(Output::Stderr(b))) => out.push((2, b.to_vec())),
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        writer.await.unwrap();
        Ok(out)
    }

    #[tokio::test]
    async fn frames_come_out_whole_however_the_stream_is_cut() {
        let mut stream = frame(1, b"{\"type\":\"LOG\"}\n{\"ty");
        stream.extend(frame(2, b"an error line\n"));
        stream.extend(frame(1, b""));
        stream.extend(frame(0, b"echoed stdin"));
        stream.extend(frame(1, b"pe\":\"RECORD\"}\n"));
        let big = vec![b'x'; 300 * 1024];
        stream.extend(frame(1, &big));
        let want = vec![
            (1, b"{\"type\":\"LOG\"}\n{\"ty".to_vec()),
            (2, b"an error line\n".to_vec()),
            (1, b"pe\":\"RECORD\"}\n".to_vec()),
            (1, big.clone()),
        ];
        for piece in [1, 3, 7, 8, 9, 4096, 1 << 20] {
            assert_eq!(
                read_all(&stream, piece, Intake::unpaced()).await.unwrap(),
                want,
                "pieces of {piece}"
            );
        }
        // Over 1 MiB of frames that straddle the 256 KiB buffers (the part of a frame already
        // read is carried into the next buffer, from the third one on a reused one), read at once
        // and paced as `attach` reads (a pause after each short read): the same frames.
        let (mut long, mut long_want) = (stream, want);
        for k in 0..40u8 {
            let payload = vec![k; 30_001];
            long.extend(frame(1 + k % 2, &payload));
            long_want.push((1 + k % 2, payload));
        }
        for piece in [4099, 1 << 20] {
            for (how, intake) in [
                ("at once", Intake::unpaced()),
                ("paced", Intake::paced(PAUSE)),
            ] {
                assert_eq!(
                    read_all(&long, piece, intake).await.unwrap(),
                    long_want,
                    "{how}, pieces of {piece}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_stream_that_ends_inside_a_frame_is_an_error() {
        let mut stream = frame(1, b"whole\n");
        let whole = vec![(1, b"whole\n".to_vec())];
        assert_eq!(
            read_all(&stream, 5, Intake::unpaced()).await.unwrap(),
            whole
        );
        stream.extend(&frame(1, b"torn line\n")[..12]);
        let e = read_all(&stream, 5, Intake::unpaced()).await.unwrap_err();
        assert!(e.contains("ended inside a frame (12 bytes"), "{e}");
        assert!(read_all(&stream[..6], 5, Intake::unpaced()).await.is_err());
    }

    #[tokio::test]
    async fn an_engine_error_frame_or_an_unknown_stream_is_an_error() {
        let mut stream = frame(1, b"a\n");
        stream.extend(frame(3, b"container io failed\n"));
        let e = read_all(&stream, 4096, Intake::unpaced())
            .await
            .unwrap_err();
        assert!(e.contains("container io failed"), "{e}");
        let e = read_all(&frame(7, b"?"), 4096, Intake::unpaced())
            .await
            .unwrap_err();
        assert!(e.contains("unknown stream 7"), "{e}");
    }

    /// `attach` against a socket that answers `answer` to any request; the error it gives.
    async fn attach_answered(answer: &'static [u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = BytesMut::new();
            while !request.ends_with(b"\r\n\r\n") {
                read_more(&mut conn, &mut request).await.unwrap();
            }
            conn.write_all(answer).await.unwrap();
        });
        let result = tokio::time::timeout(
            Duration::from_secs(20),
            attach(path.to_str().unwrap(), "1.41", "abc123", false),
        )
        .await
        .expect("attach answers in time");
        server.await.unwrap();
        match result {
            Ok(_) => panic!("attached through an error answer"),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn error_answers_are_clear_errors() {
        // What Docker 20.10 answers for a container that is not there (read off the real socket
        // with curl): plain text after the head, no length, then the connection closes.
        let e = attach_answered(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\nNo such container: abc123\r\n").await;
        assert!(
            e.contains("cannot attach to container abc123")
                && e.contains("404")
                && e.contains("No such container: abc123"),
            "{e}"
        );
        // An API error as JSON with a length (the engine's other errors).
        let e = attach_answered(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\r\n{\"message\":\"bad stdin value\"}\n").await;
        assert!(
            e.contains("400") && e.contains("bad stdin value") && !e.contains("message"),
            "{e}"
        );
        // A chunked JSON body.
        let e = attach_answered(b"HTTP/1.1 409 Conflict\r\nTransfer-Encoding: chunked\r\n\r\n1b\r\n{\"message\":\"is not running\"}\r\n0\r\n\r\n").await;
        assert!(
            e.contains("409") && e.contains("is not running") && !e.contains("1b"),
            "{e}"
        );
        // Something that did not hand the connection over.
        let e = attach_answered(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
        assert!(e.contains("without handing the connection over"), "{e}");
        let e = attach_answered(b"SSH-2.0-OpenSSH_9.2\r\n\r\n").await;
        assert!(e.contains("SSH-2.0"), "{e}");
    }

    #[test]
    fn the_answer_head_gives_its_status_and_length() {
        let h = parse_head(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").unwrap();
        assert_eq!((h.status, h.content_length), (101, None));
        let h = parse_head(b"HTTP/1.1 404 Not Found\r\ncontent-length: 42\r\n\r\n").unwrap();
        assert_eq!((h.status, h.content_length), (404, Some(42)));
        let h = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert!(h.chunked);
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
