"""Production deception: canary routes, beacons, honey DB users, honeytokens, noise budget, rotation."""
