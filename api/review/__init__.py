"""The review page for people: sign-in, the queue and one media, in plain words."""
