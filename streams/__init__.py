"""The faust-streaming app: topics, agents, dead-letter, embedded broker, CLI."""
