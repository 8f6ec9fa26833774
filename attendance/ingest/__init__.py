"""A webhook's road from the HTTP front to the live dashboard.

1. ``webhooks.front`` verifies the signature, bounds and parses the body
   (``zoom.events``), and classifies it (``event_log.IncomingEvent``; whether it
   is applied at all comes from ``zoom.catalog``).
2. ``writer.Intake`` stores it durably (``event_log.store_events``, a group
   commit for every request waiting) before the request is answered.
3. The writer's worker applies queued events in batches (``applier``): each
   event's handler (``handlers``: ``meetings`` or ``participants``) records it
   in an ``ApplyContext`` (``context``); the batch re-sweeps the touched
   connections and regenerates ended meetings (``services``), then commits.
4. After the commit ``context.batch_applied`` carries what the batch changed to
   its listeners: ``realtime`` emits to the meeting's room.
"""
