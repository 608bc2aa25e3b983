//! A deliberately wrong exercise 07: it treats every frame with FIN = 1 as
//! the end of the message, so a ping in the middle of a fragmented message
//! throws away the part received so far. The checker must name it
//! (`tests/exercises.rs`).

use ws101::frame::Opcode;

#[derive(Debug)]
pub struct Reassembler {
    max: usize,
    message: Option<Opcode>,
    bytes: Vec<u8>,
}

impl Reassembler {
    pub fn new(max_message_size: usize) -> Reassembler {
        Reassembler { max: max_message_size, message: None, bytes: Vec::new() }
    }

    pub fn push(&mut self, fin: bool, opcode: Opcode, payload: &[u8]) -> Result<Option<(Opcode, Vec<u8>)>, u16> {
        let result = match (opcode, self.message) {
            (Opcode::Ping | Opcode::Pong | Opcode::Close, _) => Ok(Some((opcode, payload.to_vec()))),
            (Opcode::Continuation, None) | (Opcode::Text | Opcode::Binary, Some(_)) => return Err(1002),
            (_, current) => {
                if self.bytes.len() + payload.len() > self.max {
                    return Err(1009);
                }
                self.message = current.or(Some(opcode));
                self.bytes.extend_from_slice(payload);
                match (fin, self.message) {
                    (true, Some(Opcode::Text)) if std::str::from_utf8(&self.bytes).is_err() => return Err(1007),
                    (true, Some(first)) => Ok(Some((first, std::mem::take(&mut self.bytes)))),
                    _ => Ok(None),
                }
            }
        };
        // The mistake: any final frame ends "the message", a control frame too.
        if fin {
            self.message = None;
            self.bytes.clear();
        }
        result
    }
}
