//! Outgoing topic aliases (MQTT 5 §3.3.2.3.4), with MQTT.js's rules (research §8).
//!
//! Aliases belong to one connection: the broker's CONNACK says how many it accepts (Topic Alias
//! Maximum, 0 when absent) and the table starts empty. An explicit `topicAlias` with a topic
//! registers the pair; one with an empty topic must name a registered alias. With
//! `autoUseTopicAlias` a registered topic is sent as an empty topic plus its alias; with
//! `autoAssignTopicAlias` topics get aliases as they are published, the least recently used one
//! being reused when the table is full.

use std::collections::HashMap;

use super::SessionError;
use crate::codec::Publish;

#[derive(Debug, Default)]
pub(crate) struct OutgoingAliases {
    /// The broker's Topic Alias Maximum for this connection.
    maximum: u16,
    by_topic: HashMap<String, u16>,
    by_alias: HashMap<u16, String>,
    /// Alias → when it was last used, for least-recently-used reuse.
    last_used: HashMap<u16, u64>,
    clock: u64,
    /// MQTT.js `autoUseTopicAlias`.
    auto_use: bool,
    /// MQTT.js `autoAssignTopicAlias`.
    auto_assign: bool,
}

impl OutgoingAliases {
    /// An empty table with MQTT.js's `autoUseTopicAlias` and `autoAssignTopicAlias` choices.
    pub(crate) fn new(auto_use: bool, auto_assign: bool) -> Self {
        OutgoingAliases {
            auto_use,
            auto_assign,
            ..OutgoingAliases::default()
        }
    }

    /// A new connection accepted with the broker's Topic Alias Maximum.
    pub(crate) fn reset(&mut self, maximum: u16) {
        self.maximum = maximum;
        self.by_topic.clear();
        self.by_alias.clear();
        self.last_used.clear();
    }

    /// The topic `alias` stands for in this table (the current connection's, or the last one's
    /// until the next CONNACK).
    pub(crate) fn topic_of(&self, alias: u16) -> Option<&str> {
        self.by_alias.get(&alias).map(String::as_str)
    }

    /// Whether the broker accepts aliases on this connection.
    pub(crate) fn is_active(&self) -> bool {
        self.maximum > 0
    }

    /// Checks the alias a publish asks for and fills in the topic of an alias-only publish.
    /// Called when the application publishes while connected.
    pub(crate) fn resolve(&self, publish: &mut Publish) -> Result<(), SessionError> {
        let Some(alias) = publish.properties.topic_alias else {
            return Ok(());
        };
        if alias == 0 || alias > self.maximum {
            return Err(SessionError::invalid("Sending Topic Alias out of range"));
        }
        if publish.topic.is_empty() {
            match self.by_alias.get(&alias) {
                Some(topic) => publish.topic = topic.clone(),
                None => return Err(SessionError::invalid("Unregistered Topic Alias")),
            }
        }
        Ok(())
    }

    /// The form in which `publish` (with its full topic) goes on the wire now, registering
    /// aliases as it goes.
    /// `alias_only`: the application gave an empty topic and an alias, which is how it goes.
    pub(crate) fn wire(&mut self, publish: &Publish, alias_only: bool) -> Publish {
        let mut wire = publish.clone();
        if self.maximum == 0 {
            wire.properties.topic_alias = None;
            return wire;
        }
        self.clock += 1;
        if let Some(alias) = publish
            .properties
            .topic_alias
            .filter(|a| *a <= self.maximum)
        {
            if alias_only && self.by_alias.get(&alias) == Some(&publish.topic) {
                self.last_used.insert(alias, self.clock);
                wire.topic = String::new();
            } else {
                self.register(&publish.topic, alias);
            }
            return wire;
        }
        wire.properties.topic_alias = None;
        if let Some(&alias) = self.by_topic.get(&publish.topic) {
            if self.auto_use || self.auto_assign {
                self.last_used.insert(alias, self.clock);
                wire.topic = String::new();
                wire.properties.topic_alias = Some(alias);
            }
            return wire;
        }
        if self.auto_assign {
            let alias = self.free_alias();
            self.register(&publish.topic, alias);
            wire.properties.topic_alias = Some(alias);
        }
        wire
    }

    fn register(&mut self, topic: &str, alias: u16) {
        if let Some(old) = self.by_alias.insert(alias, topic.to_string()) {
            self.by_topic.remove(&old);
        }
        self.by_topic.insert(topic.to_string(), alias);
        self.last_used.insert(alias, self.clock);
    }

    /// The lowest unused alias, or the least recently used one when all are taken.
    fn free_alias(&self) -> u16 {
        if let Some(alias) = (1..=self.maximum).find(|a| !self.by_alias.contains_key(a)) {
            return alias;
        }
        self.last_used
            .iter()
            .min_by_key(|(_, used)| **used)
            .map_or(1, |(alias, _)| *alias)
    }
}

/// The copy of a publish kept for resending: full topic, no alias (MQTT.js strips aliases from
/// stored packets; a new connection starts with an empty table).
pub(crate) fn without_alias(mut publish: Publish) -> Publish {
    // Only when there is one: writing through an absent property table allocates an empty one,
    // which every later encode then compares field by field to find it empty.
    if publish.properties.topic_alias.is_some() {
        publish.properties.topic_alias = None;
    }
    publish
}
