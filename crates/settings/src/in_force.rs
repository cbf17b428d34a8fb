//! The practice in force: the one reader of every setting the clinician can change in the
//! browser.
//!
//! A setting such as the practice's name, email, licensed states or crisis numbers comes from
//! three places, in this order: the config file (or the environment) where it sets the value;
//! else what the clinician saved in the inbox; else the built-in default. Every page, email,
//! flag, invitation, feed and background worker reads the practice through [`InForce::get`], so
//! no reader can take the file's value where the inbox's is meant. Each server keeps its own
//! `InForce` and updates it whenever it sees the stored details change (`web::live`), so on
//! PostgreSQL a change saved on one server reaches the others within the poll interval.
//!
//! Backups work the same way: where and when they are made comes from the config file's
//! `[backup]` where it sets a value, else from what was saved on `/admin/backups`
//! ([`crate::backup::BackupSettings::with_saved`]).
//!
//! The notices of new requests go to the practice's email and every email is sent in the
//! practice's name unless `mail.notify_email` or `mail.from` are set on their own
//! ([`crate::details::apply`]).

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::backup::SavedBackup;
use crate::config::Config;
use crate::details::{self, PracticeDetails};

/// The config file's settings with the details saved in the inbox in place.
#[derive(Debug)]
pub struct InForce {
    /// The config as read from the file and environment (replaced on `SIGHUP`).
    file: ArcSwap<Config>,
    /// The details saved in the inbox, as last read from the database.
    saved: ArcSwap<Option<PracticeDetails>>,
    /// The backup settings saved on `/admin/backups`, as last read from the database.
    saved_backup: ArcSwap<Option<SavedBackup>>,
    /// `file` with `saved` and `saved_backup` applied: what every reader sees.
    current: ArcSwap<Config>,
    /// One writer at a time, so `current` is always made from the `file` and `saved` stored.
    writing: Mutex<()>,
}

impl InForce {
    pub fn new(file: Arc<Config>, saved: Option<PracticeDetails>) -> InForce {
        let current = Arc::new(effective(&file, saved.as_ref(), None));
        InForce {
            file: ArcSwap::new(file),
            saved: ArcSwap::new(Arc::new(saved)),
            saved_backup: ArcSwap::new(Arc::new(None)),
            current: ArcSwap::new(current),
            writing: Mutex::new(()),
        }
    }

    /// The practice in force now.
    pub fn get(&self) -> Arc<Config> {
        self.current.load_full()
    }

    /// The config as the file and environment give it, without the inbox's details (for the
    /// details page, which shows which values the file sets).
    pub fn file(&self) -> Arc<Config> {
        self.file.load_full()
    }

    /// The details saved in the inbox, if any.
    pub fn saved(&self) -> Option<PracticeDetails> {
        self.saved.load().as_ref().clone()
    }

    /// Puts the details read from the database in force; returns the practice now in force.
    pub fn set_saved(&self, saved: Option<PracticeDetails>) -> Arc<Config> {
        self.put(|| self.saved.store(Arc::new(saved)))
    }

    /// Puts a config re-read from the file in force (`SIGHUP`); returns the practice now in
    /// force.
    pub fn set_file(&self, file: Arc<Config>) -> Arc<Config> {
        self.put(|| self.file.store(file))
    }

    /// Stores one part with `store`, then puts the practice made from all parts in force; one
    /// writer at a time, so `current` is always made from the parts stored.
    fn put(&self, store: impl FnOnce()) -> Arc<Config> {
        let _one = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        store();
        let current = Arc::new(effective(
            &self.file.load(),
            self.saved.load().as_ref().as_ref(),
            self.saved_backup.load().as_ref().as_ref(),
        ));
        self.current.store(current.clone());
        current
    }
    /// The backup settings saved on `/admin/backups`, if any.
    pub fn saved_backup(&self) -> Option<SavedBackup> {
        self.saved_backup.load().as_ref().clone()
    }

    /// Puts the backup settings read from the database in force; returns the practice now in
    /// force.
    pub fn set_saved_backup(&self, saved: Option<SavedBackup>) -> Arc<Config> {
        self.put(|| self.saved_backup.store(Arc::new(saved)))
    }
}

/// `file` with the saved `details` and `backup` settings in place, except where the file sets
/// a value.
fn effective(
    file: &Config,
    details: Option<&PracticeDetails>,
    backup: Option<&SavedBackup>,
) -> Config {
    let mut config = match details {
        Some(values) => details::apply(file, values),
        None => file.clone(),
    };
    if let Some(saved) = backup {
        config.backup = config.backup.with_saved(saved);
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn config(text: &str) -> Arc<Config> {
        Arc::new(Config::from_toml(text, "t", None, &Overrides::default()).expect("valid config"))
    }

    fn saved() -> PracticeDetails {
        let mut v = details::values_of(&config(""));
        v.insert("name".into(), "Harbor Light".into());
        v.insert("email".into(), "sam@harborlight.org".into());
        v.insert("licensed_states".into(), "NY".into());
        v
    }

    #[test]
    fn saved_details_reach_the_notices_the_sender_and_the_rules() {
        let in_force = InForce::new(config(""), None);
        assert_eq!(in_force.get().mail.notify_email, "hello@example.com");
        let now = in_force.set_saved(Some(saved()));
        assert_eq!(now.practice.name, "Harbor Light");
        assert_eq!(now.practice.licensed_states, vec!["NY"]);
        assert_eq!(now.mail.notify_email, "sam@harborlight.org");
        assert_eq!(now.mail.from, "Harbor Light <sam@harborlight.org>");
        assert_eq!(in_force.get().practice.name, "Harbor Light");
        assert_eq!(in_force.file().practice.name, config("").practice.name);
    }

    #[test]
    fn the_file_wins_where_it_sets_a_value() {
        let text = "[practice]\nemail = \"front@clinic.org\"\n[mail]\nnotify_email = \"desk@clinic.org\"\nfrom = \"Desk <desk@clinic.org>\"\n";
        let in_force = InForce::new(config(text), Some(saved()));
        let now = in_force.get();
        assert_eq!(now.practice.name, "Harbor Light");
        assert_eq!(now.mail.notify_email, "desk@clinic.org");
        assert_eq!(now.mail.from, "Desk <desk@clinic.org>");
        let now = in_force.set_file(config(""));
        assert_eq!(now.practice.email, "sam@harborlight.org");
        assert_eq!(now.mail.notify_email, "sam@harborlight.org");
    }
}
