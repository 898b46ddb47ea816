"""One router per resource: media, generations, brands, health."""
