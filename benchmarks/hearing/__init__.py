"""The hearing benchmark: recognizers on coding talk by held-out voices, in noise, silence and echo."""
