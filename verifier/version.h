/* SPDX-License-Identifier: MIT */
#pragma once

#define VF_VERSION "0.1"
