"""The physics of the cell (paper eqs. 2-11): channel, delays, energies, task loss, cost, the random world."""
