"""Radio access models: path loss, antennas, link budget, SINR and rates."""
