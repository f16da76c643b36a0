//! 112 calls as the phone system signals them (CTI): a call rings, is
//! answered at a call-taker's position, and ends. A call that ends without
//! being answered was abandoned. Signals are parsed once here; what a
//! signal does to a stored call is [`CallState::after`].

use crate::phone::CallerNumber;
use crate::validation::{self, ValidationError};

/// Longest call id, line or position (characters): the API's limit for
/// every short string.
pub const CALL_TEXT_MAX_CHARS: usize = validation::SHORT_TEXT_MAX_CHARS;

/// What the exchange says happened to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallSignal {
    Ringing,
    /// Picked up at a position.
    Answered,
    Ended,
}

impl CallSignal {
    pub fn as_str(self) -> &'static str {
        match self {
            CallSignal::Ringing => "ringing",
            CallSignal::Answered => "answered",
            CallSignal::Ended => "ended",
        }
    }
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Ringing,
    Answered,
    Ended,
    /// Ended without being answered.
    Abandoned,
}

/// Whether a signal changes a call, repeats what it already said, or
/// comes out of order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Apply it.
    Apply,
    /// Already so: the signal was sent again (the exchange retried).
    Repeat,
    /// Cannot happen in this order (ANSWERED after ENDED).
    OutOfOrder,
}

impl CallState {
    /// The state of a call from its stored times.
    pub fn of(answered: bool, ended: bool) -> CallState {
        match (answered, ended) {
            (false, false) => CallState::Ringing,
            (true, false) => CallState::Answered,
            (true, true) => CallState::Ended,
            (false, true) => CallState::Abandoned,
        }
    }

    /// What `signal` does to a call in this state. Every signal is
    /// idempotent: sent twice, the second changes nothing.
    pub fn after(self, signal: CallSignal) -> Transition {
        use CallSignal as S;
        use CallState as C;
        match (self, signal) {
            (_, S::Ringing) => Transition::Repeat,
            (C::Ringing, S::Answered | S::Ended) | (C::Answered, S::Ended) => Transition::Apply,
            (C::Answered, S::Answered) | (C::Ended | C::Abandoned, S::Ended) => Transition::Repeat,
            (C::Ended | C::Abandoned, S::Answered) => Transition::OutOfOrder,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Ringing => "ringing",
            CallState::Answered => "answered",
            CallState::Ended => "ended",
            CallState::Abandoned => "abandoned",
        }
    }
}

/// The exchange's id for a call: printable, non-empty, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(String);

impl CallId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let id = validation::required_text(field, raw.trim(), CALL_TEXT_MAX_CHARS)?;
        if id.chars().any(char::is_whitespace) {
            return Err(ValidationError::new(field, "must not contain spaces"));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A SignalCall request, as sent.
#[derive(Debug, Clone, Copy)]
pub struct SignalDraft<'a> {
    pub call_id: &'a str,
    pub line: &'a str,
    pub caller_phone: &'a str,
    pub caller_id_withheld: bool,
    pub signal: CallSignal,
    pub position: &'a str,
}

/// A checked signal. The number is read only from RINGING (the call's
/// first signal); later signals may leave it out.
#[derive(Debug, Clone)]
pub struct Signalled {
    pub call_id: CallId,
    pub line: String,
    pub caller: CallerNumber,
    pub signal: CallSignal,
    pub position: String,
}

impl Signalled {
    pub fn parse(draft: SignalDraft<'_>) -> Result<Self, ValidationError> {
        let number_given = !draft.caller_phone.trim().is_empty() || draft.caller_id_withheld;
        let caller = if draft.signal == CallSignal::Ringing || number_given {
            CallerNumber::parse(draft.caller_phone, draft.caller_id_withheld)?
        } else {
            CallerNumber::parse("", true)?
        };
        Ok(Self {
            call_id: CallId::parse("call_id", draft.call_id)?,
            line: validation::text("line", draft.line.trim(), CALL_TEXT_MAX_CHARS)?,
            caller,
            signal: draft.signal,
            position: validation::text("position", draft.position.trim(), CALL_TEXT_MAX_CHARS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(signal: CallSignal, phone: &'static str) -> SignalDraft<'static> {
        SignalDraft {
            call_id: "1733380000.42",
            line: "112-1",
            caller_phone: phone,
            caller_id_withheld: false,
            signal,
            position: "",
        }
    }

    #[test]
    fn a_call_rings_is_answered_and_ends_and_each_signal_may_come_twice() {
        let mut state = CallState::Ringing;
        for (signal, next) in [
            (CallSignal::Answered, CallState::Answered),
            (CallSignal::Ended, CallState::Ended),
        ] {
            assert_eq!(state.after(signal), Transition::Apply);
            state = next;
            assert_eq!(state.after(signal), Transition::Repeat);
        }
        assert_eq!(state.after(CallSignal::Ringing), Transition::Repeat);
        assert_eq!(state.after(CallSignal::Answered), Transition::OutOfOrder);
    }

    #[test]
    fn a_call_ended_unanswered_is_abandoned_and_cannot_be_answered_after() {
        assert_eq!(CallState::of(false, true), CallState::Abandoned);
        assert_eq!(
            CallState::Abandoned.after(CallSignal::Answered),
            Transition::OutOfOrder
        );
        assert_eq!(
            CallState::Abandoned.after(CallSignal::Ended),
            Transition::Repeat
        );
    }

    #[test]
    fn ringing_needs_a_number_or_withheld_and_later_signals_may_leave_it_out() {
        let error = Signalled::parse(draft(CallSignal::Ringing, "")).unwrap_err();
        assert_eq!(error.field, "caller_phone");
        let error = Signalled::parse(draft(CallSignal::Ringing, "12ab")).unwrap_err();
        assert_eq!(error.field, "caller_phone");
        let rang = Signalled::parse(draft(CallSignal::Ringing, "0812 3456 7890")).unwrap();
        assert_eq!(rang.caller.as_str(), "+6281234567890");
        let ended = Signalled::parse(draft(CallSignal::Ended, "")).unwrap();
        assert!(ended.caller.is_withheld());
    }

    #[test]
    fn a_call_id_is_printable_without_spaces_and_bounded() {
        for bad in ["", "  ", "a b", "x\u{7}"] {
            let mut request = draft(CallSignal::Ringing, "081234567890");
            request.call_id = bad;
            let error = Signalled::parse(request).unwrap_err();
            assert_eq!(error.field, "call_id", "{bad:?}");
        }
        let long = "c".repeat(CALL_TEXT_MAX_CHARS + 1);
        assert_eq!(
            CallId::parse("call_id", &long).unwrap_err().field,
            "call_id"
        );
    }
}
