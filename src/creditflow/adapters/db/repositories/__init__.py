"""One repository per aggregate; each runs inside the connection its unit of work owns."""
