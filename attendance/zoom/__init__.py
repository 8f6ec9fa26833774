"""Everything Zoom-shaped: signatures, payload parsing and (later) the REST client."""
