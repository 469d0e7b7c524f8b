"""MLX90640 thermopile array: Melexis' algorithm in numpy, I2C and UART transports, and a register-level mock."""
