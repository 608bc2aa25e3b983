//! Stage 4b — compression: the permessage-deflate extension.
//!
//! RFC 7692 §5 (negotiating an extension's parameters), §6 (RSV1 marks a
//! compressed message), §7 (permessage-deflate: its four parameters, how a
//! message is compressed and decompressed), RFC 6455 §9.1 (the offer's
//! grammar, parsed by `handshake::parse_extensions`). Chapter:
//! `docs/14-compression.md`.
//!
//! Two halves. The negotiation is pure and always built: the server reads
//! the client's offers and answers one ([`accept_offer`]), the client
//! builds its offer ([`offer`]) and checks the answer ([`check_response`]).
//! Both end with an [`Agreed`]: which window and which context rules each
//! side's compressor uses. The codec, a [`Deflater`] and an [`Inflater`]
//! over `flate2` with the zlib-rs backend, exists only with the `deflate`
//! feature; without it the two types have no values, so the code that
//! uses them compiles and never runs.
//!
//! A compressed message is DEFLATE data (RFC 1951) ending in a sync flush,
//! whose last four bytes, always `00 00 ff ff`, are not sent (§7.2.1); the
//! receiver puts them back before inflating (§7.2.2). Inflated bytes count
//! against the message limit *while* they come out, a bounded chunk at a
//! time, so a small frame that would inflate to gigabytes (a
//! decompression bomb) fails with 1009 after one chunk past the limit.

use crate::handshake::Extension;

/// The extension's registered name (RFC 7692 §7).
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from
/// the tail end."
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The smallest window zlib can compress with. RFC 7692 allows 8 (§7.1.2),
/// but zlib's raw deflater refuses it: an offer that insists on an 8-bit
/// server window is declined, and a server that asks this client for one
/// fails the handshake.
pub const MIN_WINDOW_BITS: u8 = 9;

/// The largest window, 32 KiB (RFC 7692 §7.1.2: "a value from 8 to 15").
pub const MAX_WINDOW_BITS: u8 = 15;

/// Inflated bytes are produced at most this many at a time.
pub const INFLATE_CHUNK: usize = 64 * 1024;

/// Is the codec built in (the `deflate` feature)? Without it no offer is
/// made or accepted, whatever the settings say.
pub const AVAILABLE: bool = cfg!(feature = "deflate");

/// Compression settings of one endpoint, in its own terms: "my" compressor
/// and what it asks of the peer's. The server's defaults are those of
/// python-websockets (12-bit windows both ways); the client's those of a
/// browser (it offers `client_max_window_bits` and takes what it is told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deflate {
    /// zlib's level, 0 (store) to 9 (smallest). Default 6.
    pub level: u32,
    /// The window this endpoint compresses with, 9 to 15 (its memory and
    /// the peer's grow with it: `docs/14-compression.md`). Default 12 on a
    /// server, 15 on a client, lowered to what the peer allows.
    pub window_bits: u8,
    /// Compress each message on its own, forgetting the ones before (a
    /// little larger on the wire, no dictionary kept between messages).
    /// Default false.
    pub no_context_takeover: bool,
    /// Ask the peer to do the same. Default false.
    pub peer_no_context_takeover: bool,
    /// Ask the peer to compress with at most this window (9 to 15); `None`
    /// asks nothing. Default `Some(12)` on a server, `None` on a client.
    pub peer_window_bits: Option<u8>,
    /// Messages shorter than this are sent uncompressed (RSV1 clear): the
    /// DEFLATE block overhead outweighs the gain. Default 0.
    pub min_size: usize,
}

impl Deflate {
    /// The server's defaults.
    pub fn server() -> Deflate {
        Deflate {
            level: 6,
            window_bits: 12,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            peer_window_bits: Some(12),
            min_size: 0,
        }
    }

    /// The client's defaults.
    pub fn client() -> Deflate {
        Deflate { window_bits: MAX_WINDOW_BITS, peer_window_bits: None, ..Deflate::server() }
    }
}

/// What the handshake settled, seen from one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// The window this endpoint compresses with.
    pub compress_window_bits: u8,
    /// Reset this endpoint's compressor after each message.
    pub compress_reset: bool,
    /// The peer resets its compressor after each message, so this
    /// endpoint's inflater may forget too.
    pub inflate_reset: bool,
    /// The largest window the peer may compress with, so the window this
    /// endpoint inflates with: 15 unless the answer limits the peer.
    pub inflate_window_bits: u8,
}

/// The parameters of one offer or response, each at most once (RFC 7692
/// §5: a duplicate or unknown parameter makes it invalid).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `Some(None)`: the parameter without a value.
    server_max_window_bits: Option<Option<u8>>,
    client_max_window_bits: Option<Option<u8>>,
}

/// Read the parameters of a `permessage-deflate` element, or why not.
fn params(extension: &Extension) -> Result<Params, String> {
    let mut p = Params::default();
    for (name, value) in &extension.params {
        let bits = || match value.as_deref().map(str::parse::<u8>) {
            None => Ok(None),
            // RFC 7692 §7.1.2.1: "a decimal integer value without leading
            // zeroes between 8 to 15, inclusive".
            Some(Ok(b @ 8..=15)) if !value.as_deref().is_some_and(|v| v.starts_with('0')) => Ok(Some(b)),
            _ => Err(format!("{name}={value:?} is not a window size from 8 to 15 (RFC 7692 §7.1.2)")),
        };
        let duplicate = || format!("{name} appears twice (RFC 7692 §7)");
        match name.as_str() {
            "server_no_context_takeover" | "client_no_context_takeover" if value.is_some() => {
                return Err(format!("{name} takes no value (RFC 7692 §7.1.1)"));
            }
            "server_no_context_takeover" if p.server_no_context_takeover => return Err(duplicate()),
            "server_no_context_takeover" => p.server_no_context_takeover = true,
            "client_no_context_takeover" if p.client_no_context_takeover => return Err(duplicate()),
            "client_no_context_takeover" => p.client_no_context_takeover = true,
            "server_max_window_bits" if p.server_max_window_bits.is_some() => return Err(duplicate()),
            "server_max_window_bits" => p.server_max_window_bits = Some(bits()?),
            "client_max_window_bits" if p.client_max_window_bits.is_some() => return Err(duplicate()),
            "client_max_window_bits" => p.client_max_window_bits = Some(bits()?),
            _ => return Err(format!("unknown parameter {name} (RFC 7692 §7)")),
        }
    }
    Ok(p)
}

/// The server's side (RFC 7692 §7.1): answer the first offer it can
/// accept, in the client's order of preference; `None` declines them all,
/// and the connection goes on uncompressed (RFC 6455 §9.1: a server
/// declines by not answering). An invalid offer is declined, never the
/// handshake.
///
/// ```
/// use ws101::deflate::{accept_offer, Deflate};
/// use ws101::handshake::parse_extensions;
/// // What Chromium offers.
/// let offers = parse_extensions(["permessage-deflate; client_max_window_bits"])?;
/// let (response, agreed) = accept_offer(&offers, &Deflate::server()).unwrap();
/// assert_eq!(response.to_string(), "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12");
/// assert_eq!((agreed.compress_window_bits, agreed.compress_reset), (12, false));
/// # Ok::<(), ws101::Error>(())
/// ```
pub fn accept_offer(offers: &[Extension], config: &Deflate) -> Option<(Extension, Agreed)> {
    offers.iter().filter(|o| o.name == PERMESSAGE_DEFLATE).find_map(|offer| accept_one(offer, config).ok())
}

/// One offer, accepted or declined with the reason.
fn accept_one(offer: &Extension, config: &Deflate) -> Result<(Extension, Agreed), String> {
    let asked = params(offer)?;
    let mut out = Vec::new();
    let mut flag = |name: &str| out.push((name.to_string(), None));
    // RFC 7692 §7.1.1.1: a server that accepts an offer with
    // server_no_context_takeover "MUST include the
    // "server_no_context_takeover" extension parameter in the extension
    // negotiation response"; it may include it unasked.
    let compress_reset = asked.server_no_context_takeover || config.no_context_takeover;
    if compress_reset {
        flag("server_no_context_takeover");
    }
    // §7.1.1.2: the server may ask the client not to take over context.
    // Only then does this inflater forget between messages: an offer's
    // client_no_context_takeover is a hint, and some clients (Autobahn's)
    // read it as "you may ask me" and go on taking over context unasked.
    let inflate_reset = config.peer_no_context_takeover;
    if config.peer_no_context_takeover {
        flag("client_no_context_takeover");
    }
    // §7.1.2.1: a server accepts server_max_window_bits=N by answering
    // "the same or smaller value"; it may name one unasked.
    let own = config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
    let compress_window_bits = match asked.server_max_window_bits {
        Some(None) => return Err("server_max_window_bits without a value (RFC 7692 §7.1.2.1)".into()),
        Some(Some(limit)) if limit < MIN_WINDOW_BITS => {
            return Err(format!("server_max_window_bits={limit}: zlib cannot compress with an 8-bit window"));
        }
        Some(Some(limit)) => own.min(limit),
        None => own,
    };
    if asked.server_max_window_bits.is_some() || compress_window_bits < MAX_WINDOW_BITS {
        out.push(("server_max_window_bits".into(), Some(compress_window_bits.to_string())));
    }
    // §7.1.2.2: "If a received extension negotiation offer doesn't have the
    // "client_max_window_bits" extension parameter, the corresponding
    // extension negotiation response to the offer MUST NOT include" it.
    let mut inflate_window_bits = MAX_WINDOW_BITS;
    if let (Some(offered), Some(wanted)) = (asked.client_max_window_bits, config.peer_window_bits) {
        let bits = wanted.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS).min(offered.unwrap_or(MAX_WINDOW_BITS));
        out.push(("client_max_window_bits".into(), Some(bits.to_string())));
        inflate_window_bits = bits.max(MIN_WINDOW_BITS);
    }
    let response = Extension { name: PERMESSAGE_DEFLATE.into(), params: out };
    Ok((response, Agreed { compress_window_bits, compress_reset, inflate_reset, inflate_window_bits }))
}

/// The server's side, once more, on the answer that goes out: the
/// application may have changed or built the `permessage-deflate` element
/// of an acceptance itself. It must fit an offer (RFC 7692 §5 and §7.1);
/// the result is what the server's codec then follows.
pub fn server_agreed(offers: &[Extension], response: &Extension, config: &Deflate) -> Result<Agreed, String> {
    let got = params(response)?;
    let fits = |offer: &Extension| -> Result<Agreed, String> {
        let asked = params(offer)?;
        if asked.server_no_context_takeover && !got.server_no_context_takeover {
            return Err("server_no_context_takeover was offered and must be answered (RFC 7692 §7.1.1.1)".into());
        }
        let compress_window_bits = match (got.server_max_window_bits, asked.server_max_window_bits) {
            (Some(None), _) => return Err("server_max_window_bits needs a value (RFC 7692 §7.1.2.1)".into()),
            (Some(Some(bits)), _) if bits < MIN_WINDOW_BITS => {
                return Err("zlib cannot compress with an 8-bit window".into())
            }
            (Some(Some(bits)), Some(Some(limit))) if bits > limit => {
                return Err(format!("server_max_window_bits={bits} is above the {limit} offered (RFC 7692 §7.1.2.1)"))
            }
            (None, Some(Some(_))) => return Err("server_max_window_bits was offered and must be answered".into()),
            (Some(Some(bits)), _) => bits,
            (None, _) => config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
        };
        match (got.client_max_window_bits, asked.client_max_window_bits) {
            (Some(_), None) => return Err("client_max_window_bits was not offered (RFC 7692 §7.1.2.2)".into()),
            (Some(None), _) => {
                return Err("client_max_window_bits needs a value in an answer (RFC 7692 §7.1.2.2)".into())
            }
            (Some(Some(bits)), Some(Some(limit))) if bits > limit => {
                return Err(format!("client_max_window_bits={bits} is above the {limit} offered"))
            }
            _ => {}
        }
        Ok(Agreed {
            compress_window_bits,
            compress_reset: got.server_no_context_takeover || config.no_context_takeover,
            // As in `accept_one`: forget only when the answer asks for it.
            inflate_reset: got.client_no_context_takeover,
            inflate_window_bits: peer_window(got.client_max_window_bits),
        })
    };
    let mut why = format!("no {PERMESSAGE_DEFLATE} offer");
    for offer in offers.iter().filter(|o| o.name == PERMESSAGE_DEFLATE) {
        match fits(offer) {
            Ok(agreed) => return Ok(agreed),
            Err(e) => why = e,
        }
    }
    Err(why)
}

/// The client's offer: `permessage-deflate; client_max_window_bits`, as a
/// browser sends it (the server may then limit this client's window), plus
/// what `config` asks of the server.
///
/// ```
/// use ws101::deflate::{offer, Deflate};
/// assert_eq!(offer(&Deflate::client()).to_string(), "permessage-deflate; client_max_window_bits");
/// ```
pub fn offer(config: &Deflate) -> Extension {
    let mut params = Vec::new();
    if config.no_context_takeover {
        // RFC 7692 §7.1.1.2: a hint that this client will not take over
        // context, whatever the server answers.
        params.push(("client_no_context_takeover".to_string(), None));
    }
    if config.window_bits < MAX_WINDOW_BITS {
        params.push(("client_max_window_bits".to_string(), Some(config.window_bits.max(MIN_WINDOW_BITS).to_string())));
    } else {
        params.push(("client_max_window_bits".to_string(), None));
    }
    if config.peer_no_context_takeover {
        params.push(("server_no_context_takeover".to_string(), None));
    }
    if let Some(bits) = config.peer_window_bits {
        params.push(("server_max_window_bits".to_string(), Some(bits.clamp(8, MAX_WINDOW_BITS).to_string())));
    }
    Extension { name: PERMESSAGE_DEFLATE.into(), params }
}

/// The client's check of the server's answer to [`offer`] (RFC 7692 §5:
/// "If a received extension negotiation response … includes extension
/// parameters that the client didn't offer, … the client MUST _Fail the
/// WebSocket Connection_").
pub fn check_response(response: &Extension, config: &Deflate) -> Result<Agreed, String> {
    if response.name != PERMESSAGE_DEFLATE {
        return Err(format!("the server agreed to {}, which was not offered", response.name));
    }
    let got = params(response)?;
    let offered = params(&offer(config))?;
    // §7.1.2.2: the server "MUST NOT include" client_max_window_bits unless
    // it was offered, and must give it a value.
    let compress_window_bits = match got.client_max_window_bits {
        Some(_) if offered.client_max_window_bits.is_none() => {
            return Err("client_max_window_bits in the answer was not offered (RFC 7692 §7.1.2.2)".into())
        }
        Some(None) => return Err("client_max_window_bits in the answer has no value (RFC 7692 §7.1.2.2)".into()),
        Some(Some(bits)) if bits < MIN_WINDOW_BITS => {
            return Err(format!("client_max_window_bits={bits}: zlib cannot compress with an 8-bit window"))
        }
        Some(Some(bits)) => bits.min(config.window_bits.max(MIN_WINDOW_BITS)),
        None => config.window_bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
    };
    // §7.1.1.1: asked for, server_no_context_takeover must be in the answer.
    if offered.server_no_context_takeover && !got.server_no_context_takeover {
        return Err("the answer lacks the server_no_context_takeover that was asked for (RFC 7692 §7.1.1.1)".into());
    }
    // §7.1.2.1: the server's window may only be what was asked or smaller.
    match (got.server_max_window_bits, offered.server_max_window_bits) {
        (Some(None), _) => return Err("server_max_window_bits in the answer has no value (RFC 7692 §7.1.2.1)".into()),
        (Some(Some(bits)), Some(Some(limit))) if bits > limit => {
            return Err(format!(
                "server_max_window_bits={bits} is larger than the {limit} asked for (RFC 7692 §7.1.2.1)"
            ))
        }
        (None, Some(Some(_))) => {
            return Err("the answer lacks the server_max_window_bits that was asked for (RFC 7692 §7.1.2.1)".into())
        }
        _ => {}
    }
    Ok(Agreed {
        compress_window_bits,
        compress_reset: config.no_context_takeover || got.client_no_context_takeover,
        inflate_reset: got.server_no_context_takeover,
        inflate_window_bits: peer_window(got.server_max_window_bits),
    })
}

/// The window to inflate the peer's messages with: the limit the answer
/// set on the peer's window (RFC 7692 §7.1.2: the peer "MUST NOT" use a
/// larger one), or the largest. zlib's smallest is 9 bits, which reads an
/// 8-bit window's data too.
fn peer_window(limit: Option<Option<u8>>) -> u8 {
    match limit {
        Some(Some(bits)) => bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS),
        _ => MAX_WINDOW_BITS,
    }
}

#[cfg(feature = "deflate")]
pub use codec::{Deflater, Inflater};

#[cfg(not(feature = "deflate"))]
pub use absent::{Deflater, Inflater};

/// The codec over `flate2` (zlib-rs).
#[cfg(feature = "deflate")]
mod codec {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

    use super::{Agreed, Deflate, INFLATE_CHUNK, MAX_WINDOW_BITS, TAIL};
    use crate::error::Error;

    /// One endpoint's compressor, kept for the whole connection unless it
    /// resets after each message.
    #[derive(Debug)]
    pub struct Deflater {
        compress: Compress,
        reset: bool,
    }

    impl Deflater {
        /// The compressor the handshake agreed on (always `Some` with the
        /// feature).
        pub fn new(agreed: &Agreed, config: &Deflate) -> Option<Deflater> {
            let level = Compression::new(config.level.min(9));
            let bits = agreed.compress_window_bits.clamp(super::MIN_WINDOW_BITS, MAX_WINDOW_BITS);
            Some(Deflater {
                compress: Compress::new_with_window_bits(level, false, bits),
                reset: agreed.compress_reset,
            })
        }

        /// Compress `input`, one message or one fragment of it, into `out`
        /// (cleared first): a sync flush at its end, and for the last piece
        /// of a message the `00 00 ff ff` tail removed (RFC 7692 §7.2.1).
        pub fn compress(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>) -> Result<(), Error> {
            out.clear();
            out.reserve(input.len() / 2 + 64);
            let mut rest = input;
            loop {
                let before = self.compress.total_in();
                self.compress
                    .compress_vec(rest, out, FlushCompress::Sync)
                    .map_err(|_| Error::Usage("the compressor failed"))?;
                rest = &rest[(self.compress.total_in() - before) as usize..];
                // Done when all the input is in and the flush did not run
                // out of room.
                if rest.is_empty() && out.len() < out.capacity() {
                    break;
                }
                out.reserve(out.capacity().max(64));
            }
            if last {
                if out.ends_with(&TAIL) {
                    out.truncate(out.len() - TAIL.len());
                }
                // zlib makes nothing of a flush with nothing new to flush
                // (an empty message, or an empty last fragment), but the
                // receiver appends the tail, which must then follow the
                // header of an empty stored block: one byte, 0x00 (the
                // empty message of RFC 7692 §7.2.3.6 is that byte).
                if out.is_empty() {
                    out.push(0x00);
                }
                if self.reset {
                    self.compress.reset();
                }
            }
            Ok(())
        }
    }

    /// One endpoint's decompressor, with the window the peer agreed to stay
    /// within (15 bits, which inflates any, when the answer set no limit).
    #[derive(Debug)]
    pub struct Inflater {
        decompress: Decompress,
        reset: bool,
        /// Compressed bytes of the message in progress so far.
        message_in: usize,
        /// The last bytes fed ended a DEFLATE stream (a final block).
        stream_ended: bool,
    }

    impl Inflater {
        /// The decompressor the handshake agreed on (always `Some` with the
        /// feature).
        pub fn new(agreed: &Agreed) -> Option<Inflater> {
            let bits = agreed.inflate_window_bits.clamp(super::MIN_WINDOW_BITS, MAX_WINDOW_BITS);
            let decompress = Decompress::new_with_window_bits(false, bits);
            Some(Inflater { decompress, reset: agreed.inflate_reset, message_in: 0, stream_ended: false })
        }

        /// Inflate `input`, a piece of a compressed message, onto `out`;
        /// with `last`, the message's end: the tail goes in after it
        /// (RFC 7692 §7.2.2). `out` never grows past `limit` plus one
        /// [`INFLATE_CHUNK`]: past `limit`, the message is too big (1009).
        pub fn inflate(&mut self, input: &[u8], last: bool, out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
            if !input.is_empty() {
                self.stream_ended = false;
                self.inflate_some(input, out, limit)?;
            }
            self.message_in += input.len();
            if last {
                // A message of no compressed bytes at all is empty, and one
                // that ended its stream with a final block is complete: the
                // tail alone is not DEFLATE data, so it is not fed then.
                if self.message_in > 0 && !self.stream_ended {
                    self.inflate_some(&TAIL, out, limit)?;
                }
                self.message_in = 0;
                self.stream_ended = false;
                if self.reset {
                    self.decompress.reset(false);
                }
            }
            Ok(())
        }

        fn inflate_some(&mut self, mut input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
            loop {
                // Room for one more chunk, never more: the limit is checked
                // after each, so a bomb costs at most one chunk past it.
                let room = (out.capacity() - out.len()).min(INFLATE_CHUNK);
                if room < INFLATE_CHUNK {
                    let target = (out.capacity() * 2).max(out.len() + INFLATE_CHUNK).min(limit + INFLATE_CHUNK);
                    out.reserve_exact(target.saturating_sub(out.len()).max(INFLATE_CHUNK.min(limit + 1)));
                }
                let (before_in, before_out) = (self.decompress.total_in(), self.decompress.total_out());
                let status = self
                    .decompress
                    .decompress_vec(input, out, FlushDecompress::Sync)
                    .map_err(|_| Error::Protocol("compressed data is not valid DEFLATE (RFC 7692 §7.2.2)"))?;
                if out.len() > limit {
                    return Err(Error::TooBig("message longer than max_message_size once inflated (RFC 6455 §10.4)"));
                }
                let used = (self.decompress.total_in() - before_in) as usize;
                let made = self.decompress.total_out() - before_out;
                input = &input[used..];
                // RFC 7692 §7.2.3.4: a sender may end a message with a
                // final block (BFINAL=1) instead of a sync flush. Its stream
                // is then over; what follows is a fresh one, and the tail
                // appended at the message's end is not fed.
                if status == Status::StreamEnd {
                    self.decompress.reset(false);
                    self.stream_ended = input.is_empty();
                    if input.is_empty() {
                        return Ok(());
                    }
                    continue;
                }
                // Done when the input is all in and the output had room to
                // spare (nothing is left inside the inflater).
                if input.is_empty() && out.len() < out.capacity() {
                    return Ok(());
                }
                if used == 0 && made == 0 {
                    return Err(Error::Protocol("compressed data is not valid DEFLATE (RFC 7692 §7.2.2)"));
                }
            }
        }
    }
}

/// Without the `deflate` feature: types without values, so that the code
/// paths that use a codec compile and can never be taken.
#[cfg(not(feature = "deflate"))]
mod absent {
    use super::{Agreed, Deflate};
    use crate::error::Error;

    /// No compressor without the `deflate` feature.
    #[derive(Debug)]
    pub enum Deflater {}

    impl Deflater {
        /// Never called: there is no value to call it on.
        pub fn new(_: &Agreed, _: &Deflate) -> Option<Deflater> {
            None
        }

        /// See the feature's version.
        pub fn compress(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>) -> Result<(), Error> {
            match *self {}
        }
    }

    /// No decompressor without the `deflate` feature.
    #[derive(Debug)]
    pub enum Inflater {}

    impl Inflater {
        /// Never called: there is no value to call it on.
        pub fn new(_: &Agreed) -> Option<Inflater> {
            None
        }

        /// See the feature's version.
        pub fn inflate(&mut self, _: &[u8], _: bool, _: &mut Vec<u8>, _: usize) -> Result<(), Error> {
            match *self {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "deflate")]
    fn agreed() -> Agreed {
        Agreed { compress_window_bits: 12, compress_reset: false, inflate_reset: false, inflate_window_bits: 15 }
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn rfc_7692_7_2_3_1_hello_round_trip() {
        let (Some(mut d), Some(mut i)) = (Deflater::new(&agreed(), &Deflate::server()), Inflater::new(&agreed()))
        else {
            return;
        };
        let mut wire = Vec::new();
        d.compress(b"Hello", true, &mut wire).unwrap();
        assert_eq!(wire, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let mut out = Vec::new();
        i.inflate(&wire, true, &mut out, 1000).unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn messages_split_anywhere_inflate_with_context_taken_over() {
        let (Some(mut d), Some(mut i)) = (Deflater::new(&agreed(), &Deflate::server()), Inflater::new(&agreed()))
        else {
            return;
        };
        for n in 0..200usize {
            let message: Vec<u8> =
                format!("{{\"user\":\"alice\",\"n\":{n},\"text\":\"{}\"}}", "ab".repeat(n % 37)).into_bytes();
            let mut wire = Vec::new();
            d.compress(&message, true, &mut wire).unwrap();
            let mut out = Vec::new();
            let step = 1 + n % 7;
            let pieces: Vec<&[u8]> = wire.chunks(step).collect();
            for (k, piece) in pieces.iter().enumerate() {
                i.inflate(piece, k + 1 == pieces.len(), &mut out, 1 << 20)
                    .unwrap_or_else(|e| panic!("message {n}, piece {k}: {e}"));
            }
            if pieces.is_empty() {
                i.inflate(&[], true, &mut out, 1 << 20).unwrap();
            }
            assert_eq!(out, message, "message {n}");
        }
    }

    fn ext(text: &str) -> Vec<Extension> {
        crate::handshake::parse_extensions([text]).unwrap()
    }

    /// The server's answer to `offers`, as text, or `None` (declined).
    fn answer(offers: &str, config: &Deflate) -> Option<(String, Agreed)> {
        accept_offer(&ext(offers), config).map(|(response, agreed)| (response.to_string(), agreed))
    }

    #[test]
    fn rfc_7692_offers_and_the_servers_answers() {
        let server = Deflate::server();
        let agreed = |bits, compress_reset, inflate_reset| Agreed {
            compress_window_bits: bits,
            compress_reset,
            inflate_reset,
            inflate_window_bits: 0,
        };
        let table: &[(&str, Option<(&str, Agreed)>)] = &[
            // Firefox: bare. The server may name its own window unasked.
            ("permessage-deflate", Some(("permessage-deflate; server_max_window_bits=12", agreed(12, false, false)))),
            // Chromium: the client may be limited, so it is.
            (
                "permessage-deflate; client_max_window_bits",
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                    agreed(12, false, false),
                )),
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=10",
                    agreed(12, false, false),
                )),
            ),
            // The client's own window may be 8: this inflater reads any.
            (
                "permessage-deflate; client_max_window_bits=8",
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=8",
                    agreed(12, false, false),
                )),
            ),
            (
                "permessage-deflate; server_max_window_bits=9",
                Some(("permessage-deflate; server_max_window_bits=9", agreed(9, false, false))),
            ),
            (
                "permessage-deflate; server_max_window_bits=15",
                Some(("permessage-deflate; server_max_window_bits=12", agreed(12, false, false))),
            ),
            // zlib cannot compress with an 8-bit window: declined.
            ("permessage-deflate; server_max_window_bits=8", None),
            (
                "permessage-deflate; server_no_context_takeover",
                Some((
                    "permessage-deflate; server_no_context_takeover; server_max_window_bits=12",
                    agreed(12, true, false),
                )),
            ),
            // A hint from the client; the server need not answer it, and
            // its inflater does not rely on it.
            (
                "permessage-deflate; client_no_context_takeover",
                Some(("permessage-deflate; server_max_window_bits=12", agreed(12, false, false))),
            ),
            // Several offers in order of preference: the first that can be
            // accepted wins; a bad one is declined, not the handshake.
            (
                "permessage-deflate; server_max_window_bits=8, permessage-deflate; client_max_window_bits",
                Some((
                    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
                    agreed(12, false, false),
                )),
            ),
            (
                "x-webkit-deflate-frame, permessage-deflate",
                Some(("permessage-deflate; server_max_window_bits=12", agreed(12, false, false))),
            ),
            // Duplicate, unknown, valued flags, out of range, leading zero,
            // a missing value: each declines its offer.
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("permessage-deflate; client_max_window_bits=10; client_max_window_bits=11", None),
            ("permessage-deflate; colour=blue", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; server_max_window_bits=16", None),
            ("permessage-deflate; client_max_window_bits=7", None),
            ("permessage-deflate; server_max_window_bits=012", None),
            ("permessage-deflate; server_max_window_bits", None),
            ("x-webkit-deflate-frame", None),
        ];
        for (offers, expected) in table {
            let got = answer(offers, &server);
            // The inflater's window is the one the answer allows the client.
            let expected = expected.map(|(text, agreed)| {
                let limit = text.split("client_max_window_bits=").nth(1).map(|v| v.parse::<u8>().unwrap());
                (text.to_string(), Agreed { inflate_window_bits: limit.map_or(15, |b| b.max(9)), ..agreed })
            });
            assert_eq!(got, expected, "offer {offers:?}");
        }
    }

    #[test]
    fn server_settings_shape_the_answer() {
        let forgetful = Deflate { no_context_takeover: true, peer_no_context_takeover: true, ..Deflate::server() };
        let (text, agreed) = answer("permessage-deflate", &forgetful).unwrap();
        assert_eq!(
            text,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"
        );
        assert_eq!((agreed.compress_reset, agreed.inflate_reset), (true, true));
        let wide = Deflate { window_bits: 15, peer_window_bits: None, ..Deflate::server() };
        assert_eq!(answer("permessage-deflate; client_max_window_bits", &wide).unwrap().0, "permessage-deflate");
    }

    #[test]
    fn the_client_checks_the_answer_to_its_offer() {
        let client = Deflate::client();
        let check = |text: &str, config: &Deflate| check_response(&ext(text)[0], config);
        assert_eq!(
            check("permessage-deflate", &client),
            Ok(Agreed {
                compress_window_bits: 15,
                compress_reset: false,
                inflate_reset: false,
                inflate_window_bits: 15
            })
        );
        let limited =
            check("permessage-deflate; server_max_window_bits=12; client_max_window_bits=10", &client).unwrap();
        assert_eq!(limited.compress_window_bits, 10);
        let resets =
            check("permessage-deflate; server_no_context_takeover; client_no_context_takeover", &client).unwrap();
        assert_eq!((resets.compress_reset, resets.inflate_reset), (true, true));
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=8",
            "permessage-deflate; colour=blue",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "x-other",
        ] {
            assert!(check(bad, &client).is_err(), "{bad:?}");
        }
        // What the client asked of the server must be honoured.
        let asking = Deflate { peer_window_bits: Some(10), peer_no_context_takeover: true, ..Deflate::client() };
        assert_eq!(
            offer(&asking).to_string(),
            "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=10"
        );
        assert!(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=10", &asking).is_ok());
        assert!(check("permessage-deflate; server_no_context_takeover; server_max_window_bits=11", &asking).is_err());
        assert!(check("permessage-deflate; server_max_window_bits=10", &asking).is_err());
        assert!(check("permessage-deflate; server_no_context_takeover", &asking).is_err());
        // Without client_max_window_bits offered, none may come back.
        let narrow = Deflate { window_bits: 15, ..Deflate::client() };
        assert_eq!(offer(&narrow).to_string(), "permessage-deflate; client_max_window_bits");
    }

    #[test]
    fn an_answer_the_application_built_must_fit_an_offer() {
        let server = Deflate::server();
        let offers = ext("permessage-deflate; server_max_window_bits=10; client_max_window_bits");
        let fit = |text: &str| server_agreed(&offers, &ext(text)[0], &server);
        assert_eq!(fit("permessage-deflate; server_max_window_bits=9").unwrap().compress_window_bits, 9);
        assert!(fit("permessage-deflate; server_max_window_bits=11").is_err());
        assert!(fit("permessage-deflate").is_err(), "server_max_window_bits was offered: it must be answered");
        assert!(fit("permessage-deflate; server_max_window_bits=10; client_max_window_bits").is_err());
        assert!(server_agreed(
            &ext("permessage-deflate"),
            &ext("permessage-deflate; client_max_window_bits=9")[0],
            &server
        )
        .is_err());
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn empty_and_tiny_messages_between_others() {
        let (Some(mut d), Some(mut i)) = (Deflater::new(&agreed(), &Deflate::server()), Inflater::new(&agreed()))
        else {
            return;
        };
        for message in [&b"{\"a\":1}"[..], b"", b"\0", b"", b"", b"xyz", &[7u8; 70000][..], b"", b"q"] {
            let mut wire = Vec::new();
            d.compress(message, true, &mut wire).unwrap();
            let mut out = Vec::new();
            i.inflate(&wire, true, &mut out, 1 << 20)
                .unwrap_or_else(|e| panic!("{} bytes -> {wire:02x?}: {e}", message.len()));
            assert_eq!(out, message);
        }
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn rfc_7692_7_2_3_4_a_final_block_ends_a_message() {
        let (Some(mut i), Some(mut d)) = (Inflater::new(&agreed()), Deflater::new(&agreed(), &Deflate::server()))
        else {
            return;
        };
        let mut out = Vec::new();
        // §7.2.3.4: "Hello" in a block with BFINAL set.
        i.inflate(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00], true, &mut out, 1000).unwrap();
        assert_eq!(out, b"Hello");
        // The next message starts a fresh stream.
        let mut wire = Vec::new();
        d.compress(b"Hello again", true, &mut wire).unwrap();
        out.clear();
        i.inflate(&wire, true, &mut out, 1000).unwrap();
        assert_eq!(out, b"Hello again");
        // The same block split across two frames.
        let Some(mut split) = Inflater::new(&agreed()) else { return };
        out.clear();
        split.inflate(&[0xf3, 0x48, 0xcd], false, &mut out, 1000).unwrap();
        split.inflate(&[0xc9, 0xc9, 0x07, 0x00, 0x00], true, &mut out, 1000).unwrap();
        assert_eq!(out, b"Hello");
    }
}
