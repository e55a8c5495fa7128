"""The interaction model from the companion's side: session client, server process, link, and the micro-turn loop."""
