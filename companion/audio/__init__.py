"""Audio shared by the mic side (streams) and the speaker side (voice): sample clocks and resampling."""
