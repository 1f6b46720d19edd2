//! WebSocket framing for an established client connection (RFC 6455 §5), over any byte stream.
//!
//! The upgrade handshake runs once, on tokio ([`super::ws::upgrade`]); after it the connection
//! is driven on the JavaScript thread, where MQTT bytes go out as masked binary frames and come
//! in from binary (and continuation) frames, whose boundaries need not match MQTT packets
//! (MQTT 5 §6.0). Control frames are answered here: a ping gets its pong, a close gets its
//! close (RFC 6455 §5.5).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;

use bytes::{Buf, BufMut, BytesMut};

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Close status 1000, normal closure (RFC 6455 §7.4.1).
const NORMAL_CLOSURE: [u8; 2] = 1000u16.to_be_bytes();

/// One side of a client WebSocket: frames what we send and unframes what the server sends.
#[derive(Debug)]
pub struct WsFramer {
    /// State of the masking-key generator.
    rng: u64,
    /// Payload bytes still to come of the data frame being received.
    data_left: u64,
    /// Control frames we owe the server (pongs, the close reply), already framed.
    replies: BytesMut,
    /// The server sent a close frame: no more data comes.
    closed: bool,
    /// We sent a close frame.
    close_sent: bool,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Default for WsFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl WsFramer {
    /// A framer with a masking-key generator seeded from the operating system's randomness
    /// (std's `RandomState` keys), as RFC 6455 §10.3 asks keys to be unpredictable.
    pub fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(&hasher as *const _ as usize);
        WsFramer {
            rng: hasher.finish() | 1,
            data_left: 0,
            replies: BytesMut::new(),
            closed: false,
            close_sent: false,
        }
    }

    /// Whether the server closed the WebSocket.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift64*: cheap, and seeded unpredictably; a key per frame.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let value = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((value >> 32) as u32).to_le_bytes()
    }

    fn frame(&mut self, opcode: u8, payload: &[u8], out: &mut BytesMut) {
        // RFC 6455 §5.2: FIN, opcode, MASK bit (a client masks every frame, §5.3), length.
        out.reserve(payload.len() + 14);
        out.put_u8(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            out.put_u8(0x80 | len as u8);
        } else if let Ok(len) = u16::try_from(len) {
            out.put_u8(0x80 | 126);
            out.put_u16(len);
        } else {
            out.put_u8(0x80 | 127);
            out.put_u64(len as u64);
        }
        let mask = self.next_mask();
        out.put_slice(&mask);
        let start = out.len();
        out.extend_from_slice(payload);
        for (i, byte) in out[start..].iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
    }

    /// Queues a control frame for the server (sent with the next write).
    fn reply(&mut self, opcode: u8, payload: &[u8]) {
        let mut replies = std::mem::take(&mut self.replies);
        self.frame(opcode, payload, &mut replies);
        self.replies = replies;
    }

    /// Appends `payload` to `out` as one binary message.
    pub fn encode_binary(&mut self, payload: &[u8], out: &mut BytesMut) {
        self.frame(OP_BINARY, payload, out);
    }

    /// Appends our close frame (status 1000) to `out`, once.
    pub fn encode_close(&mut self, out: &mut BytesMut) {
        if !self.close_sent {
            self.close_sent = true;
            self.frame(OP_CLOSE, &NORMAL_CLOSURE, out);
        }
    }

    /// Moves the control frames we owe the server into `out`.
    pub fn take_replies(&mut self, out: &mut BytesMut) {
        if !self.replies.is_empty() {
            out.extend_from_slice(&self.replies);
            self.replies.clear();
        }
    }

    /// Whether control frames are waiting to be sent.
    pub fn has_replies(&self) -> bool {
        !self.replies.is_empty()
    }

    /// Takes whole frames (and the available part of a data frame) from the front of `input`
    /// and appends the MQTT bytes they carry to `mqtt`. Bytes of an incomplete header or
    /// control frame stay in `input`.
    pub fn decode(&mut self, input: &mut BytesMut, mqtt: &mut BytesMut) -> io::Result<()> {
        loop {
            if self.data_left > 0 {
                let n = usize::try_from(self.data_left)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                if n == 0 {
                    return Ok(());
                }
                mqtt.extend_from_slice(&input[..n]);
                input.advance(n);
                self.data_left -= n as u64;
                continue;
            }
            if self.closed || input.len() < 2 {
                return Ok(());
            }
            let (b0, b1) = (input[0], input[1]);
            if b0 & 0x70 != 0 {
                // §5.2: RSV bits must be 0 unless an extension was negotiated (none is).
                return Err(invalid(
                    "the server sent a WebSocket frame with reserved bits set",
                ));
            }
            if b1 & 0x80 != 0 {
                // §5.1: a server must not mask the frames it sends.
                return Err(invalid("the server sent a masked WebSocket frame"));
            }
            let (header, len) = match b1 & 0x7f {
                126 if input.len() >= 4 => (4, u64::from(u16::from_be_bytes([input[2], input[3]]))),
                127 if input.len() >= 10 => {
                    let mut raw = [0u8; 8];
                    raw.copy_from_slice(&input[2..10]);
                    (10, u64::from_be_bytes(raw))
                }
                126 | 127 => return Ok(()),
                short => (2, u64::from(short)),
            };
            let opcode = b0 & 0x0f;
            match opcode {
                OP_BINARY | OP_CONTINUATION => {
                    input.advance(header);
                    self.data_left = len;
                }
                OP_TEXT => {
                    return Err(invalid(
                        "the server sent a WebSocket text message; MQTT over WebSocket uses \
                         binary messages only (MQTT 5 §6.0)",
                    ))
                }
                OP_CLOSE | OP_PING | OP_PONG => {
                    // §5.5: control frames are not fragmented and carry at most 125 bytes.
                    if len > 125 || b0 & 0x80 == 0 {
                        return Err(invalid(
                            "the server sent an invalid WebSocket control frame",
                        ));
                    }
                    let total = header + len as usize;
                    if input.len() < total {
                        return Ok(());
                    }
                    let payload = input.split_to(total).split_off(header);
                    match opcode {
                        OP_PING => self.reply(OP_PONG, &payload),
                        OP_CLOSE => {
                            // §5.5.1: answer with a close frame (echoing the status), then end.
                            self.closed = true;
                            if !self.close_sent {
                                self.close_sent = true;
                                let status = payload.get(..2).unwrap_or(&NORMAL_CLOSURE).to_vec();
                                self.reply(OP_CLOSE, &status);
                            }
                        }
                        _ => {}
                    }
                }
                other => {
                    return Err(invalid(&format!(
                        "the server sent a WebSocket frame with the unknown opcode {other}"
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame as a server sends it: unmasked.
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else if payload.len() <= 0xffff {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    /// Unmasks one client frame, returning (opcode, payload).
    #[allow(clippy::unwrap_used)]
    fn client_frame(bytes: &[u8]) -> (u8, Vec<u8>) {
        assert_eq!(bytes[0] & 0x80, 0x80, "FIN set");
        assert_eq!(bytes[1] & 0x80, 0x80, "masked");
        let (header, len) = match bytes[1] & 0x7f {
            126 => (4, u16::from_be_bytes([bytes[2], bytes[3]]) as usize),
            127 => (
                10,
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
            ),
            n => (2, n as usize),
        };
        let mask = &bytes[header..header + 4];
        let payload = bytes[header + 4..header + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i & 3])
            .collect();
        (bytes[0] & 0x0f, payload)
    }

    #[test]
    fn binary_messages_are_masked_and_carry_the_payload() {
        let mut framer = WsFramer::new();
        for size in [0, 5, 125, 126, 65_535, 65_536, 200_000] {
            let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut out = BytesMut::new();
            framer.encode_binary(&payload, &mut out);
            assert_eq!(client_frame(&out), (OP_BINARY, payload));
        }
    }

    #[test]
    fn data_split_anywhere_comes_out_whole_and_in_order() {
        let mut wire = server_frame(OP_BINARY, b"hello ");
        wire.extend(server_frame(OP_PING, b"p"));
        let mut fragmented = server_frame(OP_BINARY, b"wor");
        fragmented[0] &= 0x7f; // not final
        wire.extend(fragmented);
        wire.extend(server_frame(OP_CONTINUATION, &vec![b'x'; 70_000]));
        for chunk in [1, 2, 3, 7, 1000, wire.len()] {
            let mut framer = WsFramer::new();
            let (mut input, mut mqtt) = (BytesMut::new(), BytesMut::new());
            for piece in wire.chunks(chunk) {
                input.extend_from_slice(piece);
                framer.decode(&mut input, &mut mqtt).unwrap();
            }
            assert!(input.is_empty());
            assert_eq!(&mqtt[..9], b"hello wor");
            assert_eq!(mqtt.len(), 9 + 70_000);
            let mut replies = BytesMut::new();
            framer.take_replies(&mut replies);
            assert_eq!(client_frame(&replies), (OP_PONG, b"p".to_vec()));
        }
    }

    #[test]
    fn a_close_frame_is_answered_once_and_ends_the_data() {
        let mut framer = WsFramer::new();
        let mut input = BytesMut::from(&server_frame(OP_CLOSE, &1001u16.to_be_bytes())[..]);
        input.extend_from_slice(&server_frame(OP_BINARY, b"late"));
        let mut mqtt = BytesMut::new();
        framer.decode(&mut input, &mut mqtt).unwrap();
        assert!(framer.is_closed());
        assert!(mqtt.is_empty());
        let mut replies = BytesMut::new();
        framer.take_replies(&mut replies);
        assert_eq!(
            client_frame(&replies),
            (OP_CLOSE, 1001u16.to_be_bytes().to_vec())
        );
        let mut more = BytesMut::new();
        framer.encode_close(&mut more);
        assert!(more.is_empty(), "no second close frame");
    }

    #[test]
    fn text_masked_reserved_and_oversized_control_frames_are_refused() {
        for bad in [
            server_frame(OP_TEXT, b"{}"),
            {
                let mut f = server_frame(OP_BINARY, b"x");
                f[1] |= 0x80;
                f
            },
            {
                let mut f = server_frame(OP_BINARY, b"x");
                f[0] |= 0x40;
                f
            },
            server_frame(OP_PING, &[0; 126]),
            server_frame(0x3, b""),
        ] {
            let mut framer = WsFramer::new();
            let (mut input, mut mqtt) = (BytesMut::from(&bad[..]), BytesMut::new());
            assert!(framer.decode(&mut input, &mut mqtt).is_err());
        }
    }
}
