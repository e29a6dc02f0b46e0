//! Player profiles: what the CRM knows about a player that events do not
//! say (VIP tier, personal manager, segments, marketing opt-outs).
//!
//! Profiles arrive on their own compacted topic and are joined like a
//! table: the latest profile of a player applies to every alert and offer
//! from then on. A player without one is a [`Tier::Regular`] with no
//! manager, no segments and no opt-outs.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashMap;

/// VIP tier, in ascending order of value to the business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Tier {
    #[default]
    Regular,
    Vip,
    HighRoller,
}

impl Tier {
    /// Every tier, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Regular, Tier::Vip, Tier::HighRoller];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Regular => "regular",
            Tier::Vip => "vip",
            Tier::HighRoller => "high_roller",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Tier> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Where an offer reaches the player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
    /// In the product (a banner, a bonus in the cashier).
    InApp,
    /// A call or a message from the player's personal manager.
    Manager,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::Push,
        Channel::InApp,
        Channel::Manager,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::InApp => "in_app",
            Channel::Manager => "manager",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Channel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Marketing the player declined: all of it, or single channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OptOuts {
    /// No marketing offers at all, on any channel.
    pub marketing: bool,
    /// Bit `i` set: no offers on [`Channel::ALL`]`[i]`.
    pub channels: u8,
}

impl OptOuts {
    /// Parses the wire list (`marketing`, or channel names).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<OptOuts, String> {
        let mut o = OptOuts::default();
        for n in names {
            if n == "marketing" || n == "all" {
                o.marketing = true;
            } else if let Some(c) = Channel::parse(n) {
                o.channels |= 1 << c as u8;
            } else {
                return Err(format!(
                    "unknown opt-out `{n}` (expected marketing, email, sms, push, in_app or manager)"
                ));
            }
        }
        Ok(o)
    }

    /// Whether an offer on `channel` is declined.
    pub fn declines(&self, channel: Channel) -> bool {
        self.marketing || self.channels & (1 << channel as u8) != 0
    }

    /// The wire list, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.marketing {
            v.push("marketing");
        }
        for c in Channel::ALL {
            if self.channels & (1 << c as u8) != 0 {
                v.push(c.as_str());
            }
        }
        v
    }
}

/// What the CRM knows of a player.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub tier: Tier,
    /// The personal manager looking after the player, if any.
    pub manager_id: Option<String>,
    /// The operator's segment tags (e.g. `sports`, `slots_lover`).
    pub segments: Vec<String>,
    pub opt_outs: OptOuts,
}

impl Profile {
    /// Whether the player carries `segment`.
    pub fn in_segment(&self, segment: &str) -> bool {
        self.segments.iter().any(|s| s == segment)
    }
}

/// A borrowed `(brand, player)` key: hashes as the owned tuple does, so a
/// lookup allocates nothing.
#[derive(Hash)]
struct Key<'a>(&'a str, &'a str);

impl hashbrown::Equivalent<(Box<str>, Box<str>)> for Key<'_> {
    fn equivalent(&self, k: &(Box<str>, Box<str>)) -> bool {
        *k.0 == *self.0 && *k.1 == *self.1
    }
}

/// The latest profile per (brand, player): the joined table.
///
/// Profiles are shared (`Arc`) because every alert and offer of the player
/// carries a part of it and a table update must not copy it into each.
#[derive(Debug, Clone, Default)]
pub struct ProfileBook {
    by_player: HashMap<(Box<str>, Box<str>), Arc<Profile>>,
}

impl ProfileBook {
    /// Sets (or with `None`, removes) the profile of a player.
    pub fn set(&mut self, brand: &str, player_id: &str, profile: Option<Profile>) {
        let key = (Box::from(brand), Box::from(player_id));
        match profile {
            Some(p) => {
                self.by_player.insert(key, Arc::new(p));
            }
            None => {
                self.by_player.remove(&key);
            }
        }
    }

    /// Removes the profile of `player_id` in every brand (a tombstone on the
    /// profiles topic carries only the key).
    pub fn remove_player(&mut self, player_id: &str) {
        self.by_player.retain(|(_, p), _| &**p != player_id);
    }

    /// The profile of a player, if the CRM sent one.
    pub fn get(&self, brand: &str, player_id: &str) -> Option<&Arc<Profile>> {
        self.by_player.get(&Key(brand, player_id))
    }

    /// Profiles held.
    pub fn len(&self) -> usize {
        self.by_player.len()
    }

    /// Whether no profile is held.
    pub fn is_empty(&self) -> bool {
        self.by_player.is_empty()
    }
}

/// One [`ProfileBook`] shared by the engines of a process: profiles are
/// joined like a global table (every partition's engine sees every
/// profile), so the CRM need not partition its topic like the events.
///
/// Updates are applied by the thread that drives the engines, between
/// batches, so an engine sees the same book throughout a call. A replay
/// loads its profiles before the first event.
#[derive(Debug, Clone, Default)]
pub struct SharedProfiles(Arc<RwLock<ProfileBook>>);

impl SharedProfiles {
    /// The book for reading. A writer that panicked left the map itself
    /// intact (each update is one insert or remove), so poisoning is
    /// ignored.
    pub fn read(&self) -> RwLockReadGuard<'_, ProfileBook> {
        self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The book for an update.
    pub fn write(&self) -> RwLockWriteGuard<'_, ProfileBook> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The profile of a player, if the CRM sent one.
    pub fn get(&self, brand: &str, player_id: &str) -> Option<Arc<Profile>> {
        self.read().get(brand, player_id).cloned()
    }
}
