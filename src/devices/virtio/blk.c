// SPDX-License-Identifier: MIT
/* placeholder: implemented by its issue */
typedef int ignition_placeholder_t;
