"""Platform adapters: the only code that imports a chat SDK.

Inbound, an adapter turns a platform object into a core event and calls the dispatch callable
the entry point gave it. Outbound, `adapters.outbox.sender_for(target, redis)` finds the sender
for a reply target, so a worker process can post progress and previews without a live gateway.
"""
