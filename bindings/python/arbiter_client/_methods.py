"""The methods of the protocol as Python calls, written once for both clients.

Each helper builds the method's argument and returns ``self.call(...)``: a
value on :class:`~arbiter_client.Client`, an awaitable on
:class:`~arbiter_client.AsyncClient`. The argument shapes are the server's
(README.md, "The protocol"); fields left ``None`` are not sent.
"""

from ._core import clean


class Methods:
    """Mixin: needs ``call(method, arg, timeout=None)`` and ``notify(method, arg)``."""

    def ping(self, *, timeout=None):
        """``{pong: True, version}``: the server answers and which ruleset serves.
        Retried after a connection failure or timeout (it changes nothing)."""
        return self.call("ping", None, timeout=timeout)

    def ruleset(self, *, timeout=None):
        """The serving ruleset: version, checksum, touchpoints, actions, experiments."""
        return self.call("ruleset", None, timeout=timeout)

    def stats(self, *, timeout=None):
        """Counters and latency percentiles (``arbiter stats`` prints the same)."""
        return self.call("stats", None, timeout=timeout)

    def learning(self, action=None, *, timeout=None):
        """Learned propensities ``[{action, channel, segment, positives, negatives,
        trials, mean}]``, of every adaptive action or of ``action``."""
        return self.call("learning", None if action is None else {"action": action},
                         timeout=timeout)

    def decide(self, context, *, timeout=None):
        """The next best actions for one customer at one touchpoint.

        ``context`` is a map: ``customer_id``, ``channel`` (web, email, app,
        store, call_center, sms...) and ``touchpoint`` are required; optional
        ``now`` (unix seconds), ``consent`` ({name: bool}; missing means
        false), ``location`` ({lat, lon, store_id, country}, read by rules
        only with ``consent.location``), ``purchases`` ([{sku, category,
        price, ts, channel}]), ``events`` ([{type, sku, category, ts}]),
        ``weather`` ({temp_c, condition}), ``scores`` ({model: 0..1}),
        ``attributes`` (anything else), ``limit``, ``explain``, ``preview``
        (decide but record nothing), ``timezone`` ("+02:00"),
        ``deadline_ms``. What the server remembers about the customer is
        merged with it.

        Returns ``{decision_id, ruleset, group, actions: [{id, priority,
        propensity, value, payload}], explain?, elapsed_us}``; keep
        ``decision_id`` for :meth:`feedback`.

        Retries: on ``overloaded`` (nothing was done); after a connection
        failure or timeout only when ``preview`` is true, since a decision
        counts contacts against caps and doing it twice would count twice.
        """
        return self.call("decide", context, timeout=timeout)

    def decide_many(self, contexts, *, timeout=None):
        """Decisions for a list of contexts (at most the server's ``--max-batch``,
        1,000), in order, answered whole or not at all. A batch reads no stored
        state and records nothing, so it is retried like a read."""
        return self.call("decide_many", list(contexts), timeout=timeout)

    def track(self, customer_id, *, events=None, purchases=None, consent=None,
              attributes=None, now=None, notify=False, timeout=None):
        """Remember what the customer did, for later decisions on every channel.

        ``events``: [{type, ts, sku?, category?, channel?, ...}];
        ``purchases``: [{ts, sku?, category?, price?, channel?, ...}];
        ``consent``: {name: bool}, recorded at ``now`` (the server's clock when
        absent; a withdrawal holds on every channel until a later grant);
        ``attributes``: a map merged into the stored one. At least one of the
        four. Returns ``{stored: n}``; with ``notify=True`` it is sent as a
        notification, applied and never answered (returns None).

        Not retried after it may have reached the server (only on
        ``overloaded``): a repeated purchase would be logged twice.
        """
        arg = clean({"customer_id": customer_id, "events": events, "purchases": purchases,
                     "consent": consent, "attributes": attributes, "now": now})
        if notify:
            return self.notify("track", arg)
        return self.call("track", arg, timeout=timeout)

    def feedback(self, customer_id, action, outcome, *, decision_id=None, channel=None,
                 value=None, ts=None, notify=False, timeout=None, retries=None):
        """Report what came of an action: ``outcome`` is ``impression``,
        ``click``, ``convert``, ``dismiss`` or one the ruleset declares.

        It counts for contact policy (an impression is the contact of a channel
        that counts on impression), for learning (adaptive actions) and for the
        report. Pass the decision's ``decision_id``: the server then stores
        the outcome once per (decision_id, action, outcome), and this client
        sends it again after a lost connection or a timeout (stored and
        logged once, the report counts it once). Without
        a ``decision_id``, or for ``impression`` (whose contact is not
        deduplicated), it is retried only on ``overloaded``. ``value``: money
        the outcome brought; ``ts``: when it happened (unix seconds).
        Returns ``{ok: True}``; ``notify=True`` sends it unanswered.
        """
        arg = clean({"customer_id": customer_id, "action": action, "outcome": outcome,
                     "decision_id": decision_id, "channel": channel, "value": value, "ts": ts})
        if notify:
            return self.notify("feedback", arg)
        return self.call("feedback", arg, timeout=timeout, retries=retries)

    # Admin methods: the server answers them on its --admin socket only
    # (Forbidden elsewhere). Never retried after they may have been sent.

    def reload(self, *, timeout=None):
        """Reload the ruleset: ``{version, actions}``; a broken ruleset raises
        an ArbiterError whose ``details["errors"]`` lists every problem."""
        return self.call("reload", None, timeout=timeout)

    def customer(self, customer_id, *, timeout=None):
        """Everything stored about the customer (admin socket)."""
        return self.call("customer", {"customer_id": customer_id}, timeout=timeout)

    def forget(self, customer_id, *, timeout=None):
        """Erase every stored trace of the customer (admin socket)."""
        return self.call("forget", {"customer_id": customer_id}, timeout=timeout)
