"""Human handoff to 店小二: queue, claims, agents' console events, service hours, 好差评.

State lives only in Redis (keys in `keys.py`), so any gateway process can serve any agent or
user and a restart loses nothing. `HandoffHook` plugs into ChatService; `HandoffService` is the
agents' side; `EventHub` fans events out to every process's console WebSockets via pub/sub.
"""
