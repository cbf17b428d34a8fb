//! A piece of mail as the worker sends it: one variant per kind, each with only what that email
//! says. Built from the outbox row the store leased; here is decided what a row means (whose
//! link it carries, whether it offers online booking) and what it lacks to be sent.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use super::kinds::{BookingMail, MailKind};
use practice::meeting::MeetingDetails;
use store::{OutboxRow, StoredBooking};

/// A claimed outbox row: its bookkeeping, and the email it makes (or why it cannot make one,
/// which counts as a permanent failure).
#[derive(Clone)]
pub struct ClaimedMail {
    pub id: i64,
    pub kind: MailKind,
    pub attempts: i64,
    pub permanent_failures: i64,
    pub mail: Result<Mail, Unsendable>,
}

/// What a booking link is made of: the request and the secret its links are bound to.
#[derive(Clone)]
pub struct RequestLink {
    pub id: i64,
    pub link_secret: String,
}

/// A booking email to the person.
#[derive(Clone)]
pub struct ToPerson {
    pub to: String,
    /// For the link back to the booking page (none once the request is gone).
    pub request: Option<RequestLink>,
    pub booking: BookingMail,
    /// Whether the practice offers the questionnaire before a consultation.
    pub questionnaire_offered: bool,
    /// Whether the person already finished the questionnaire before the consultation (so the
    /// email does not invite them to it again); read as it leaves.
    pub questionnaire_done: bool,
    /// The person said they will be outside the US: their crisis numbers are local ones.
    pub outside_us: bool,
}

/// A notice to the practice about a booking (no personal detail).
#[derive(Clone)]
pub struct BookingNotice {
    pub request_id: Option<i64>,
    pub reference: String,
    pub booking: BookingMail,
}

/// How to join, read as the email leaves (the clinician may have changed it since).
#[derive(Clone, Debug, Default)]
pub struct Joining {
    pub meeting: MeetingDetails,
    /// Whether the person gave a phone number with their request (a phone consultation is
    /// joined when the clinician calls).
    pub phone_given: bool,
}

/// One email, by kind.
#[derive(Clone)]
pub enum Mail {
    NewRequestNotice {
        reference: String,
        received_at: Timestamp,
    },
    Acknowledgement {
        to: String,
        received_at: Timestamp,
        /// The link to choose a time, when the request may book online now.
        booking_link: Option<RequestLink>,
        /// The person said they will be outside the US.
        outside_us: bool,
    },
    BookingHeld(ToPerson),
    BookingConfirmed(ToPerson, Joining),
    BookingDeclined(ToPerson),
    BookingOtherTime(ToPerson),
    BookingCancelled(ToPerson),
    BookingReminder {
        person: ToPerson,
        joining: Joining,
        /// How long until the consultation begins, as it leaves.
        time_left: Option<SignedDuration>,
    },
    BookingHeldNotice(BookingNotice),
    BookingCancelledNotice(BookingNotice),
    DailyAgenda {
        /// The day and its confirmed consultations, read as it leaves.
        agenda: Option<(Date, Vec<StoredBooking>)>,
    },
    QuestionnaireLink {
        to: String,
        request: RequestLink,
        /// The person said they will be outside the US.
        outside_us: bool,
    },
    QuestionnaireAttentionNotice {
        request_id: Option<i64>,
        reference: String,
    },
    /// The second urgent notice, once the time the person was told has passed.
    QuestionnaireAttentionOverdue {
        request_id: Option<i64>,
        reference: String,
    },
    /// The practice's documents to read and sign.
    DocumentsLink {
        to: String,
        request: RequestLink,
        /// The one reminder of documents still unsigned.
        reminder: bool,
    },
    QuestionnaireMailCheck {
        /// The code that confirms the notice address, read as it leaves.
        code: Option<String>,
    },
    /// No backup has succeeded for a day and a half.
    BackupLate,
}

impl Mail {
    /// The person's address, for the kinds that go to the person.
    pub fn recipient(&self) -> Option<&str> {
        match self {
            Mail::Acknowledgement { to, .. }
            | Mail::QuestionnaireLink { to, .. }
            | Mail::DocumentsLink { to, .. } => Some(to),
            _ => self.person().map(|p| p.to.as_str()),
        }
    }

    /// The booking email to the person, for the kinds that are one.
    pub fn person(&self) -> Option<&ToPerson> {
        match self {
            Mail::BookingHeld(p)
            | Mail::BookingConfirmed(p, _)
            | Mail::BookingDeclined(p)
            | Mail::BookingOtherTime(p)
            | Mail::BookingCancelled(p)
            | Mail::BookingReminder { person: p, .. } => Some(p),
            _ => None,
        }
    }

    pub fn kind(&self) -> MailKind {
        match self {
            Mail::NewRequestNotice { .. } => MailKind::NewRequestNotice,
            Mail::Acknowledgement { .. } => MailKind::Acknowledgement,
            Mail::BookingHeld(_) => MailKind::BookingHeld,
            Mail::BookingConfirmed(..) => MailKind::BookingConfirmed,
            Mail::BookingDeclined(_) => MailKind::BookingDeclined,
            Mail::BookingOtherTime(_) => MailKind::BookingOtherTime,
            Mail::BookingCancelled(_) => MailKind::BookingCancelled,
            Mail::BookingReminder { .. } => MailKind::BookingReminder,
            Mail::BookingHeldNotice(_) => MailKind::BookingHeldNotice,
            Mail::BookingCancelledNotice(_) => MailKind::BookingCancelledNotice,
            Mail::DailyAgenda { .. } => MailKind::DailyAgenda,
            Mail::QuestionnaireLink { .. } => MailKind::QuestionnaireLink,
            Mail::QuestionnaireAttentionNotice { .. } => MailKind::QuestionnaireAttentionNotice,
            Mail::QuestionnaireAttentionOverdue { .. } => MailKind::QuestionnaireAttentionOverdue,
            Mail::QuestionnaireMailCheck { .. } => MailKind::QuestionnaireMailCheck,
            Mail::DocumentsLink {
                reminder: false, ..
            } => MailKind::DocumentsLink,
            Mail::DocumentsLink { reminder: true, .. } => MailKind::DocumentsReminder,
            Mail::BackupLate => MailKind::BackupLate,
        }
    }
}

/// Why a row cannot become an email: a permanent failure, in words for the inbox.
pub type Unsendable = &'static str;

/// What holds for every row of a round: whether the practice offers times online and the
/// questionnaire before a consultation.
#[derive(Clone, Copy, Debug)]
pub struct Offers {
    pub times: bool,
    pub questionnaire: bool,
}

impl ClaimedMail {
    /// The email an outbox row asks for, or why it cannot be sent.
    pub fn from_row(row: OutboxRow, offers: Offers) -> ClaimedMail {
        let OutboxRow {
            id,
            kind,
            attempts,
            permanent_failures,
            recipient,
            request_id,
            link_secret,
            reference,
            received_at,
            spam,
            outside_licensed_states,
            minor,
            outside_us,
            booking,
        } = row;
        let link = request_id
            .zip(link_secret)
            .map(|(id, link_secret)| RequestLink { id, link_secret });
        let to = || {
            recipient
                .clone()
                .ok_or("the recipient address cannot be used")
        };
        let request_gone = "the request this email is about is gone";
        let booking_gone = "the booking this email is about is gone";
        let person = |booking: Option<BookingMail>| -> Result<ToPerson, Unsendable> {
            Ok(ToPerson {
                to: to()?,
                request: link.clone(),
                booking: booking.ok_or(booking_gone)?,
                questionnaire_offered: offers.questionnaire,
                questionnaire_done: false,
                outside_us,
            })
        };
        let notice = |booking: Option<BookingMail>| -> Result<BookingNotice, Unsendable> {
            Ok(BookingNotice {
                request_id,
                reference: reference.clone().unwrap_or_default(),
                booking: booking.ok_or(booking_gone)?,
            })
        };
        let mail = match kind {
            MailKind::NewRequestNotice => Ok(Mail::NewRequestNotice {
                reference: reference.clone().unwrap_or_default(),
                received_at: received_at.unwrap_or_else(Timestamp::now),
            }),
            MailKind::Acknowledgement => {
                // Online booking is offered to a request that is neither spam nor flagged, when
                // the practice offers times.
                let may_book =
                    offers.times && [spam, outside_licensed_states, minor] == [Some(false); 3];
                to().map(|to| Mail::Acknowledgement {
                    to,
                    received_at: received_at.unwrap_or_else(Timestamp::now),
                    booking_link: link.clone().filter(|_| may_book),
                    outside_us,
                })
            }
            MailKind::BookingHeld => person(booking).map(Mail::BookingHeld),
            MailKind::BookingConfirmed => {
                person(booking).map(|p| Mail::BookingConfirmed(p, Joining::default()))
            }
            MailKind::BookingDeclined => person(booking).map(Mail::BookingDeclined),
            MailKind::BookingOtherTime => person(booking).map(Mail::BookingOtherTime),
            MailKind::BookingCancelled => person(booking).map(Mail::BookingCancelled),
            MailKind::BookingReminder => person(booking).map(|person| Mail::BookingReminder {
                person,
                joining: Joining::default(),
                time_left: None,
            }),
            MailKind::BookingHeldNotice => notice(booking).map(Mail::BookingHeldNotice),
            MailKind::BookingCancelledNotice => notice(booking).map(Mail::BookingCancelledNotice),
            MailKind::DailyAgenda => Ok(Mail::DailyAgenda { agenda: None }),
            MailKind::QuestionnaireLink => match (to(), link.clone()) {
                (Ok(to), Some(request)) => Ok(Mail::QuestionnaireLink {
                    to,
                    request,
                    outside_us,
                }),
                (Err(e), _) => Err(e),
                (_, None) => Err(request_gone),
            },
            MailKind::QuestionnaireAttentionNotice => Ok(Mail::QuestionnaireAttentionNotice {
                request_id,
                reference: reference.clone().unwrap_or_default(),
            }),
            MailKind::QuestionnaireAttentionOverdue => Ok(Mail::QuestionnaireAttentionOverdue {
                request_id,
                reference: reference.clone().unwrap_or_default(),
            }),
            MailKind::QuestionnaireMailCheck => Ok(Mail::QuestionnaireMailCheck { code: None }),
            MailKind::DocumentsLink | MailKind::DocumentsReminder => match (to(), link.clone()) {
                (Ok(to), Some(request)) => Ok(Mail::DocumentsLink {
                    to,
                    request,
                    reminder: kind == MailKind::DocumentsReminder,
                }),
                (Err(e), _) => Err(e),
                (_, None) => Err(request_gone),
            },
            MailKind::BackupLate => Ok(Mail::BackupLate),
        };
        ClaimedMail {
            id,
            kind,
            attempts,
            permanent_failures,
            mail,
        }
    }
}
